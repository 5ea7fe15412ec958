"""GET /api/v1/events: newest first, ?limit= (1..1000, default 50), ?cursor=, answered as mien answers it:
{"items":[...],"next_cursor":"ID"|null} with the same fields (admin view, expressions included)."""
from datetime import datetime, timezone

from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from mienpeer.models import Event

EXPRESSIONS = ["neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"]


def iso(ms):
    if not ms:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


class EventSerializer(serializers.ModelSerializer):
    person = serializers.SerializerMethodField()
    started_at = serializers.SerializerMethodField()
    ended_at = serializers.SerializerMethodField()
    box = serializers.SerializerMethodField()
    expression = serializers.SerializerMethodField()
    dominant_expression = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = ["id", "camera_id", "track_id", "person", "similarity", "started_at", "ended_at", "box", "quality",
                  "alert", "expression", "dominant_expression"]

    def get_person(self, e):
        return {"id": e.person.id, "name": e.person.name} if e.person_id else None

    def get_started_at(self, e):
        return iso(e.started_at)

    def get_ended_at(self, e):
        return iso(e.ended_at)

    def get_box(self, e):
        return [e.box_x, e.box_y, e.box_w, e.box_h]

    def get_expression(self, e):
        return {name: getattr(e, "expr_" + name) for name in EXPRESSIONS}

    def get_dominant_expression(self, e):
        return e.dominant_expression or None


def int_param(request, name, default, low, high):
    v = request.query_params.get(name)
    if v is None:
        return default
    if not v.isdigit() or not low <= int(v) <= high:
        raise ValidationError({name: "out of range"})
    return int(v)


class EventList(APIView):
    def get(self, request):
        limit = int_param(request, "limit", 50, 1, 1000)
        cursor = int_param(request, "cursor", 0, 1, 2**62)
        qs = Event.objects.select_related("person")
        if cursor:
            qs = qs.filter(id__lt=cursor)
        events = list(qs[:limit])
        items = EventSerializer(events, many=True).data
        next_cursor = str(events[-1].id) if len(events) == limit else None
        return Response({"items": items, "next_cursor": next_cursor})

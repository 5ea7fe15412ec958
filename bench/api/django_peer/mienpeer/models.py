"""mien's tables as unmanaged Django models (Django never creates or migrates them; mien does)."""
from django.db import models


class User(models.Model):
    id = models.BigAutoField(primary_key=True)
    username = models.TextField()
    role = models.TextField()
    disabled = models.BooleanField()
    all_cameras = models.BooleanField()

    class Meta:
        managed = False
        db_table = "users"


class Token(models.Model):
    hash = models.BinaryField(primary_key=True)
    user = models.ForeignKey(User, on_delete=models.DO_NOTHING, db_column="user_id")
    created_at = models.BigIntegerField()
    expires_at = models.BigIntegerField()

    class Meta:
        managed = False
        db_table = "tokens"


class Person(models.Model):
    id = models.BigAutoField(primary_key=True)
    name = models.TextField()

    class Meta:
        managed = False
        db_table = "people"


class Event(models.Model):
    id = models.BigAutoField(primary_key=True)
    camera_id = models.BigIntegerField()
    track_id = models.BigIntegerField()
    person = models.ForeignKey(Person, null=True, on_delete=models.DO_NOTHING, db_column="person_id")
    similarity = models.FloatField()
    started_at = models.BigIntegerField()
    ended_at = models.BigIntegerField(null=True)
    dominant_expression = models.TextField()
    expr_neutral = models.FloatField()
    expr_happy = models.FloatField()
    expr_sad = models.FloatField()
    expr_angry = models.FloatField()
    expr_fearful = models.FloatField()
    expr_disgusted = models.FloatField()
    expr_surprised = models.FloatField()
    box_x = models.FloatField()
    box_y = models.FloatField()
    box_w = models.FloatField()
    box_h = models.FloatField()
    quality = models.FloatField()
    alert = models.BooleanField()

    class Meta:
        managed = False
        db_table = "events"
        ordering = ["-id"]

"""Bearer tokens as mien issues them: the database keeps SHA-256(token), so the peer accepts mien's own login
tokens. One database query per request (tokens JOIN users), like DRF's TokenAuthentication (which does
Token.objects.select_related('user').get(key=...)). mien itself caches the session in-process for up to 30 s."""
import hashlib
import time

from rest_framework import authentication, exceptions

from mienpeer.models import Token


class MienUser:
    is_authenticated = True

    def __init__(self, user):
        self.id = user.id
        self.role = user.role
        self.all_cameras = user.all_cameras


class MienTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.startswith("Bearer "):
            return None
        digest = hashlib.sha256(header[7:].encode()).digest()
        now = int(time.time() * 1000)
        token = Token.objects.select_related("user").filter(hash=digest, expires_at__gt=now).first()
        if token is None or token.user.disabled:
            raise exceptions.AuthenticationFailed("unknown or expired token")
        return MienUser(token.user), token

    def authenticate_header(self, request):
        return "Bearer"

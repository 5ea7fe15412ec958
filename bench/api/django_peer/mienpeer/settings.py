"""The peer: a minimal Django + Django REST Framework app serving mien's events list from mien's own SQLite
file (MIEN_BENCH_SQLITE). Everything not needed for the one route is left out, to give Django its best case:
no middleware, no sessions, no admin, persistent connections, DEBUG off."""
import os

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "mienpeer.urls"
WSGI_APPLICATION = "mienpeer.wsgi.application"
INSTALLED_APPS = ["rest_framework", "mienpeer"]
MIDDLEWARE = []
USE_TZ = True
TIME_ZONE = "UTC"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["MIEN_BENCH_SQLITE"],
        "CONN_MAX_AGE": None,  # one connection per worker thread, kept (the default, 0, reconnects per request)
        "OPTIONS": {"timeout": 5},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["mienpeer.auth.MienTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
    "UNAUTHENTICATED_TOKEN": None,
}
LOGGING_CONFIG = None

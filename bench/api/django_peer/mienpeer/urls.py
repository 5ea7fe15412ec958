from django.urls import path

from mienpeer.views import EventList

urlpatterns = [path("api/v1/events", EventList.as_view())]

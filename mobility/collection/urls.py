"""The collection app's addresses: OpenRosa for phones, the Central-compatible /v1, and the pages."""

from django.urls import include, path

urlpatterns = [
    path("collect/<slug:operation>/", include("mobility.collection.openrosa_urls")),
    path("v1/", include("mobility.collection.central_urls")),
    path("collection/", include("mobility.collection.web_urls")),
]

"""Points of entry and travel restriction pages (see views)."""

from django.urls import path

from . import views

app_name = "restrictions"
urlpatterns = [
    path("", views.index, name="index"),
    path("travel/", views.travel_index, name="travel_index"),
    path("<slug:slug>/points/", views.points, name="points"),
    path("<slug:slug>/points/statuses.json", views.points_statuses, name="points_statuses"),
    path("<slug:slug>/points/<str:code>/", views.point, name="point"),
    path("<slug:slug>/travel/", views.travel, name="travel"),
]

"""Flow monitoring pages (see views)."""

from django.urls import path

from . import views

app_name = "flows"
urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:slug>/", views.operation_index, name="operation"),
    path("<slug:slug>/od/", views.origin_destination, name="od"),
    path("<slug:slug>/points/<str:code>/", views.point, name="point"),
    path("<slug:slug>/corridors/<slug:corridor_slug>/", views.corridor, name="corridor"),
]

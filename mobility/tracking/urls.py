"""Tracking pages: each part's views module brings its own urlpatterns."""

from . import views, views_events, views_profiles

app_name = "tracking"
urlpatterns = [*views.urlpatterns, *views_profiles.urlpatterns, *views_events.urlpatterns]

"""Publishing pages (publish a round with its disclosure report, downloads)."""

from . import views

app_name = "publishing"
urlpatterns = [*views.urlpatterns]

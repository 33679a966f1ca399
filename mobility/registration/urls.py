"""Registration pages. Each views module lists its own ``urlpatterns``; this file only joins them."""

from . import views, views_assistance, views_protection, views_review
from .importers import template as import_template
from .protection import protect_patterns

app_name = "registration"
# Every registration page keeps POST data and locals out of error reports and is never cached.
urlpatterns = protect_patterns(
    [
        *views.urlpatterns,
        *views_review.urlpatterns,
        *views_assistance.urlpatterns,
        *views_protection.urlpatterns,
        *import_template.urlpatterns,
    ]
)

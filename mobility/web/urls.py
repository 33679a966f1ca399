"""Every page of Mobility. Views live in their apps; this file only routes."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from mobility.core import views as core_views
from mobility.gazetteer import views as gazetteer_views

from . import views

core_patterns = (
    [
        path("operations/", core_views.operation_list, name="operations"),
        path("operations/<slug:slug>/", core_views.operation_detail, name="operation_detail"),
        path(
            "operations/<slug:slug>/rounds/<int:round_id>/advance/",
            core_views.round_advance,
            name="operation_round_advance",
        ),
        path(
            "operations/<slug:slug>/rounds/<int:round_id>/correct/",
            core_views.round_correct,
            name="operation_round_correct",
        ),
        path("imports/", core_views.import_list, name="imports"),
        path("imports/<int:job_id>/", core_views.import_detail, name="import_detail"),
        path("imports/<int:job_id>/progress/", core_views.import_progress, name="import_progress"),
        path("imports/<int:job_id>/rerun/", core_views.import_rerun, name="import_rerun"),
    ],
    "core",
)

gazetteer_patterns = (
    [
        path("", gazetteer_views.index, name="index"),
        path("search/", gazetteer_views.search, name="search"),
        path("suggest/", gazetteer_views.suggest, name="suggest"),
        path("review/", gazetteer_views.review_list, name="reviews"),
        path("review/<int:review_id>/resolve/", gazetteer_views.review_resolve, name="review_resolve"),
        path("review/<int:review_id>/dismiss/", gazetteer_views.review_dismiss, name="review_dismiss"),
        path("<str:country>/", gazetteer_views.country, name="country"),
        path("<str:country>/versions/", gazetteer_views.versions, name="versions"),
        path(
            "<str:country>/versions/<int:version_id>/", gazetteer_views.version_detail, name="version_detail"
        ),
        path("<str:country>/areas/<str:pcode>/", gazetteer_views.area, name="area"),
    ],
    "gazetteer",
)

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="web/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include(core_patterns)),
    path("gazetteer/", include(gazetteer_patterns)),
    path("tracking/", include("mobility.tracking.urls")),
    path("publishing/", include("mobility.publishing.urls")),
    path("flows/", include("mobility.flows.urls")),
    path("restrictions/", include("mobility.restrictions.urls")),
    path("registration/", include("mobility.registration.urls")),
]

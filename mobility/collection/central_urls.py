"""The Central-compatible API, mounted at /v1/ (see central_api.py)."""

from django.urls import path, re_path

from . import central_api

FORM = r"^projects/(?P<project_id>[0-9]+)/forms/(?P<xml_form_id>[^/]+?)"

urlpatterns = [
    path("sessions", central_api.sessions, name="central-sessions"),
    path("sessions/<str:token>", central_api.session_end, name="central-session"),
    path("users/current", central_api.current_user, name="central-user-current"),
    path("projects", central_api.project_list, name="central-projects"),
    path("projects/<int:project_id>", central_api.project_detail, name="central-project"),
    path("projects/<int:project_id>/forms", central_api.form_list, name="central-forms"),
    re_path(FORM + r"\.xml$", central_api.form_xml, name="central-form-xml"),
    re_path(FORM + r"\.svc(?:/(?P<rest>.*))?$", central_api.odata, name="central-odata"),
    path("projects/<int:project_id>/forms/<str:xml_form_id>", central_api.form_detail, name="central-form"),
]

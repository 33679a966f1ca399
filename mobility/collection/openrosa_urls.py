"""OpenRosa addresses under collect/<operation>/: ODK Collect's server URL is http(s)://HOST/collect/<slug>."""

from django.urls import path

from . import openrosa

app_name = "openrosa"

urlpatterns = [
    path("formList", openrosa.form_list, name="form-list"),
    path("submission", openrosa.submission, name="submission"),
    path("forms/<str:form_id>/form.xml", openrosa.form_xml, name="form-xml"),
    path("forms/<str:form_id>/manifest", openrosa.manifest, name="manifest"),
    path("forms/<str:form_id>/media/<int:media_id>/<str:name>", openrosa.media, name="media"),
]

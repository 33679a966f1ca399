"""The collection pages (mounted at /collection/): forms, their versions and media, submissions."""

from django.urls import path

from . import views

app_name = "collection"
urlpatterns = [
    path("", views.form_list, name="forms"),
    path("attention/", views.attention, name="attention"),
    path("submissions/<int:pk>/", views.submission_detail, name="submission"),
    path("submissions/<int:pk>/correct/", views.submission_correct, name="submission_correct"),
    path("submissions/<int:pk>/reprocess/", views.submission_reprocess, name="submission_reprocess"),
    path(
        "submissions/<int:pk>/attachments/<int:attachment_pk>/",
        views.attachment_download,
        name="attachment",
    ),
    path(
        "submissions/<int:pk>/conflicts/<int:conflict_pk>/resolve/",
        views.conflict_resolve,
        name="conflict_resolve",
    ),
    path("<int:pk>/", views.form_detail, name="form"),
    path("<int:pk>/state/", views.form_state, name="form_state"),
    path("<int:pk>/media/", views.media_upload, name="media_upload"),
    path("<int:pk>/binding/", views.binding_edit, name="binding"),
    path("<int:pk>/versions/<int:version_pk>/xlsform/", views.version_xlsform, name="version_xlsform"),
    path("<int:pk>/versions/<int:version_pk>/xml/", views.version_xml, name="version_xml"),
    path(
        "<int:pk>/versions/<int:version_pk>/media/<int:media_pk>/",
        views.media_download,
        name="media_download",
    ),
    path("<int:pk>/submissions/", views.submission_list, name="submissions"),
    path("<int:pk>/submissions.geojson", views.submission_geojson, name="submissions_geojson"),
    path("<int:pk>/submissions/export/", views.submission_export, name="submissions_export"),
]

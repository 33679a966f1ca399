from django.contrib import admin
from django.urls import include, path

from mobility.api import api
from mobility.publishing.api_dtm import api as dtm_api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("api/dtm/v3/", dtm_api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("mobility.collection.urls")),
    path("", include("mobility.web.urls")),
]

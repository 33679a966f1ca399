"""Data-protection pages: the access log of an operation's personal records, for its admins.

The log holds who, when, what action, for which purpose and which record ids — never a value. Only
admins of the operation read it (the page, and its CSV with ``?format=csv``); members who are not
admins get 403, everyone else 404 so the operation's existence does not leak.
"""

from __future__ import annotations

import pydantic
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from mobility.core.models import Operation
from mobility.core.permissions import Action, can

from .models import AccessLog, Purpose, RegistrationGrant
from .protection import AccessLogFilter, access_log_csv, access_log_rows, personal_data_view

ENTRIES_PER_PAGE = 50
FILTER_FIELDS = ["user", "action", "purpose", "date_from", "date_to", "object_id"]


def _admin_operation(request, slug: str) -> Operation:
    operation = get_object_or_404(Operation, slug=slug)
    if not can(request.user, Action.VIEW, operation):
        raise Http404(_("No such operation."))
    if not can(request.user, Action.MANAGE, operation):
        raise PermissionDenied(_("Only admins of the operation read its access log."))
    return operation


def _filters(request) -> tuple[AccessLogFilter, list[str]]:
    given = {k: request.GET[k].strip() for k in FILTER_FIELDS if request.GET.get(k, "").strip()}
    try:
        return AccessLogFilter(**given), []
    except pydantic.ValidationError as exc:
        errors = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return AccessLogFilter(), errors


@personal_data_view
@require_GET
def access_log(request, slug: str):
    """The access log of the operation, newest first, filtered by user, action, purpose, days, record."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    operation = _admin_operation(request, slug)
    filters, errors = _filters(request)
    rows = access_log_rows(operation=operation, filters=filters)
    if request.GET.get("format") == "csv":
        response = HttpResponse(access_log_csv(rows.iterator()), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{operation.slug}-access-log.csv"'
        return response
    page = Paginator(rows, ENTRIES_PER_PAGE).get_page(request.GET.get("page"))
    grants = (
        RegistrationGrant.objects.filter(operation=operation, revoked_at__isnull=True)
        .select_related("user", "granted_by")
        .order_by("user__username")
    )
    return render(
        request,
        "registration/protect_access_log.html",
        {
            "operation": operation,
            "page": page,
            "filters": {k: request.GET.get(k, "") for k in FILTER_FIELDS},
            "errors": errors,
            "actions": AccessLog.Action.choices,
            "purposes": Purpose.choices,
            "grants": grants,
        },
    )


urlpatterns: list = [
    path("<slug:slug>/access-log/", access_log, name="protect_access_log"),
]

"""Publishing pages: publish a round through its disclosure report, releases, downloads. Thin."""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mobility.core.models import Operation, Round
from mobility.core.permissions import Action, can

from . import disclosure, exports, selectors, services
from .models import Release

# The disclosure report speaks English (it is stored with the release); the page shows it translated.
KIND_LABELS = {
    disclosure.TOTAL: gettext_lazy("area total"),
    disclosure.SEX: gettext_lazy("sex"),
    disclosure.SEX_AGE: gettext_lazy("sex/age band"),
    disclosure.REASON: gettext_lazy("reason × origin part"),
    disclosure.SITE: gettext_lazy("site-level figure"),
}
REASON_LABELS = {
    disclosure.PRIMARY: gettext_lazy("below the threshold"),
    disclosure.ROLLUP: gettext_lazy("rolled up"),
    disclosure.SECONDARY: gettext_lazy("protects another cell"),
}
WHY_LABELS = [
    (
        disclosure.WHY_ROLLUP,
        gettext_lazy("fewer than %(threshold)s people; counted only in the total of %(parent)s"),
    ),
    (disclosure.WHY_PRIMARY, gettext_lazy("fewer than %(threshold)s people")),
    (disclosure.WHY_SECONDARY, gettext_lazy("protects %(other)s")),
]


def _why(why: str) -> str:
    """The disclosure check's English reason, in the page's language when it has one of the known shapes."""
    for english, translated in WHY_LABELS:
        pattern = re.escape(english)
        for name in ("threshold", "parent", "other"):
            pattern = pattern.replace(re.escape("{" + name + "}"), f"(?P<{name}>.+)")
        match = re.fullmatch(pattern, why)
        if match:
            return str(translated) % match.groupdict()
    return why


def _shown(suppressions) -> list[dict]:
    return [
        {
            "label": s.label,
            "kind_label": KIND_LABELS.get(s.kind, s.kind_label),
            "reason": s.reason,
            "reason_label": REASON_LABELS.get(s.reason, s.reason),
            "why": _why(s.why),
        }
        for s in suppressions
    ]


def _publisher_round(request, slug, round_id):
    operation = get_object_or_404(Operation, slug=slug)
    if not can(request.user, Action.PUBLISH, operation):
        raise PermissionDenied
    return operation, get_object_or_404(Round, pk=round_id, operation=operation)


def _threshold(request) -> int | None:
    raw = (request.POST.get("threshold") or request.GET.get("threshold") or "").strip()
    if raw.isdigit() and 1 <= int(raw) <= 1000:
        return int(raw)
    return None


def round_publish(request, slug, round_id):
    """GET: the disclosure report and a confirm form. POST: publish and go to the release."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    operation, round_ = _publisher_round(request, slug, round_id)
    threshold = _threshold(request)
    change_note = request.POST.get("change_note", "").strip()
    if request.method == "POST":
        try:
            release = services.release_publish(
                round=round_, by=request.user, threshold=threshold, change_note=change_note
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                _("Round %(number)s is published as release version %(version)s.")
                % {"number": release.reporting_round, "version": release.version},
            )
            return redirect("publishing:release", release_id=release.pk)
    refusal = services.release_refusal(round=round_, change_note="x")
    report = services.disclosure_check(round=round_, threshold=threshold)
    version, current = services.release_next_version(round_)
    return render(
        request,
        "publishing/round_publish.html",
        {
            "operation": operation,
            "round": round_,
            "report": report,
            "report_counts": report.counts_by_reason(),
            "refusal": refusal,
            "next_version": version,
            "current": current,
            "needs_note": version > 1 and not round_.correction_reason,
            "change_note": change_note or (round_.correction_reason if version > 1 else ""),
            "threshold": report.threshold,
            "shown": _shown(report.suppressed[:500]),
        },
    )


def release_list(request, slug):
    operation = get_object_or_404(Operation, slug=slug)
    member = can(request.user, Action.VIEW, operation)
    releases = selectors.release_list(operation=operation, public=not member)
    rounds = []
    if can(request.user, Action.PUBLISH, operation):
        rounds = list(
            Round.objects.filter(
                operation=operation, status__in=[Round.Status.VALIDATING, Round.Status.PUBLISHED]
            )
        )
    return render(
        request,
        "publishing/release_list.html",
        {"operation": operation, "releases": releases, "member": member, "publishable_rounds": rounds},
    )


def _visible_release(request, release_id) -> Release:
    release = get_object_or_404(
        Release.objects.select_related("operation", "round", "published_by"), pk=release_id
    )
    if release.status != Release.Status.CURRENT and not can(request.user, Action.VIEW, release.operation):
        raise Http404
    return release


def release_detail(request, release_id):
    release = _visible_release(request, release_id)
    totals = selectors.published_cells(release=release, admin_level=None, current_only=False).filter(
        admin_level__lte=1
    )
    return render(
        request,
        "publishing/release_detail.html",
        {
            "release": release,
            "report": release.disclosure_report or {},
            "totals": totals[:200],
            "member": can(request.user, Action.VIEW, release.operation),
            "formats": [
                ("csv", _("CSV (HDX style)")),
                ("csv-hxl", _("CSV with HXL hashtags")),
                ("xlsx", _("Excel workbook with README")),
                ("geojson", _("GeoJSON of areas")),
                ("zip", _("HDX package (zip)")),
            ],
        },
    )


def release_download(request, release_id, fmt):
    release = _visible_release(request, release_id)
    hxl = fmt == "csv-hxl" or request.GET.get("hxl") == "1"
    fmt = "csv" if fmt == "csv-hxl" else fmt
    if fmt not in exports.FORMATS:
        raise Http404
    content_type, ext = exports.FORMATS[fmt]
    response = HttpResponse(exports.export_bytes(release, fmt, hxl=hxl), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{exports.export_name(release, ext)}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


urlpatterns = [
    path("<slug:slug>/releases/", release_list, name="releases"),
    path("<slug:slug>/rounds/<int:round_id>/publish/", round_publish, name="round_publish"),
    path("releases/<int:release_id>/", release_detail, name="release"),
    path("releases/<int:release_id>/download/<str:fmt>/", release_download, name="download"),
]

"""Verification and assistance pages: record a distribution, verify households round by round, aggregates.

- ``<slug>/households/<reference>/distribute/`` (``distribute``): the household's entitlements and
  what it received; a refusal shows its reason and, for supervisors, an override with a reason.
- ``<slug>/verification/`` and ``<slug>/verification/<id>/`` (``verify``): rounds, and each
  household of a round's site or area marked present / moved / not found (htmx swaps one row; the
  same forms work without JavaScript).
- ``<slug>/assistance/`` (members): households and individuals assisted by area, item and month,
  disclosure-checked unless the reader records assistance; publishing a month (data managers).

Views are thin: services in ``assistance``/``verification``, figures in ``assistance_figures``.
Every page that shows a household writes an access-log line.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from mobility.core.models import Operation
from mobility.core.permissions import Action, can
from mobility.gazetteer.models import Location

from . import access, assistance, assistance_figures, verification
from .models import (
    AccessLog,
    Capability,
    Household,
    Individual,
    Item,
    Purpose,
    Verification,
    VerificationRound,
)
from .views import denied, operation_for

ROUND_HOUSEHOLDS_PER_PAGE = 50
MONTHS_SHOWN = 6


def _page(capability: Capability | None):
    """Login, membership (404 otherwise) and, when given, the capability (403 page, logged)."""

    def decorate(view):
        @login_required
        def wrapped(request, slug, *args, **kwargs):
            try:
                operation = operation_for(request, slug, capability)
            except PermissionDenied as exc:
                return denied(request, exc, get_object_or_404(Operation, slug=slug))
            return view(request, operation, *args, **kwargs)

        wrapped.__name__, wrapped.__doc__ = view.__name__, view.__doc__
        return wrapped

    return decorate


def _head_names(user, operation, households) -> dict[int, str]:
    """Heads' names for users who may see personal records (``view``); nothing for the others."""
    if not access.personal_can(user, operation, Capability.VIEW):
        return {}
    heads = Individual.objects.filter(household__in=households, relationship="head", merged_into__isnull=True)
    return {p.household_id: f"{p.given_name} {p.family_name}".strip() for p in heads}


# --- recording a distribution ------------------------------------------------------------------


class DistributionForm(forms.Form):
    item = forms.ModelChoiceField(
        label=gettext_lazy("Item or kit"),
        queryset=Item.objects.none(),
        empty_label=gettext_lazy("— choose —"),
    )
    quantity = forms.IntegerField(
        label=gettext_lazy("Quantity"), min_value=1, max_value=assistance.MAX_QUANTITY, initial=1
    )
    distributed_on = forms.DateField(
        label=gettext_lazy("Date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    site = forms.ModelChoiceField(
        label=gettext_lazy("Distribution site"), queryset=Location.objects.none(), required=False
    )
    distributor = forms.CharField(label=gettext_lazy("Distributing partner"), max_length=200, required=False)
    # One id per form shown: the same form sent twice (a double click, a resent page) is one distribution.
    reference = forms.CharField(widget=forms.HiddenInput, max_length=64)
    override_reason = forms.CharField(
        label=gettext_lazy("Reason for giving it anyway"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy(
            "Recorded with the distribution and audited, e.g. “kit lost in the fire of 3 May”."
        ),
    )

    def __init__(self, *args, operation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"].queryset = Item.objects.filter(operation=operation).order_by("code")
        self.fields["site"].queryset = Location.objects.filter(
            operation=operation, type=Location.Type.SITE
        ).order_by("name")


@_page(Capability.DISTRIBUTE)
@require_http_methods(["GET", "POST"])
def household_distribute(request, operation, reference: str):
    """Record a distribution to one household: refusals are shown with their reason."""
    household = get_object_or_404(Household, operation=operation, reference=reference)
    may_override = assistance.may_override(request.user, operation)
    refusal = None
    if request.method == "POST":
        form = DistributionForm(request.POST, operation=operation)
        if form.is_valid():
            data = form.cleaned_data
            try:
                distribution = assistance.distribution_record(
                    operation=operation,
                    household=household,
                    item=data["item"],
                    quantity=data["quantity"],
                    distributed_on=data["distributed_on"],
                    site=data["site"],
                    distributor=data["distributor"],
                    reference=data["reference"],
                    override_reason=data["override_reason"] if may_override else "",
                    by=request.user,
                )
            except assistance.DistributionRefused as exc:
                refusal = exc
                if may_override and data["override_reason"] == "" and "override_reason" in request.POST:
                    form.add_error("override_reason", _("Give the reason for giving it anyway."))
            except (ValidationError, PermissionDenied) as exc:
                form.add_error(None, " ".join(getattr(exc, "messages", [str(exc)])))
            else:
                text = _("Recorded: %(quantity)s × %(item)s on %(date)s.") % {
                    "quantity": distribution.quantity,
                    "item": distribution.item.name,
                    "date": distribution.distributed_on.isoformat(),
                }
                if distribution.override_reason:
                    text += " " + _("Given although refused; the override is audited.")
                messages.success(request, text)
                return redirect(
                    "registration:household_distribute", slug=operation.slug, reference=household.reference
                )
    else:
        form = DistributionForm(
            operation=operation,
            initial={
                "distributed_on": timezone.localdate(),
                "site": household.site_id,
                "reference": f"web-{secrets.token_hex(8)}",
                "quantity": 1,
            },
        )
    access.log_access(
        user=request.user,
        operation=operation,
        action=AccessLog.Action.VIEW,
        purpose=Purpose.ASSISTANCE,
        obj=household,
    )
    items = assistance.catalogue(operation)
    for item in items:
        item.allowed = assistance.allowed_quantity(item.entitlement, household) if item.entitlement else None
    return render(
        request,
        "registration/assist_distribute.html",
        {
            "operation": operation,
            "household": household,
            "head_name": _head_names(request.user, operation, [household]).get(household.pk, ""),
            "form": form,
            "refusal": refusal,
            "may_override": may_override,
            "items": items,
            "distributions": list(assistance.household_distributions(household)[:50]),
            "linked": len(assistance.linked_households(household)) - 1,
            "household_url": reverse(
                "registration:household", kwargs={"slug": operation.slug, "reference": household.reference}
            ),
        },
    )


# --- verification ------------------------------------------------------------------------------


class RoundForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    site = forms.ModelChoiceField(
        label=gettext_lazy("Site"),
        queryset=Location.objects.none(),
        required=False,
        empty_label=gettext_lazy("— an area instead —"),
    )
    area_pcode = forms.CharField(
        label=gettext_lazy("or area p-code"),
        max_length=32,
        required=False,
        help_text=gettext_lazy("any admin level, e.g. MZ0101"),
    )
    started_on = forms.DateField(
        label=gettext_lazy("Starts on"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, operation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = Location.objects.filter(
            operation=operation, type=Location.Type.SITE
        ).order_by("name")


@_page(Capability.VERIFY)
@require_http_methods(["GET", "POST"])
def verification_rounds(request, operation):
    """The operation's verification rounds, and a form to open one for a site or an area."""
    if request.method == "POST":
        form = RoundForm(request.POST, operation=operation)
        if form.is_valid():
            data = form.cleaned_data
            try:
                round_ = verification.round_open(
                    operation=operation,
                    name=data["name"],
                    site=data["site"],
                    area_pcode="" if data["site"] else data["area_pcode"],
                    started_on=data["started_on"],
                    by=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, " ".join(exc.messages))
            else:
                return redirect("registration:verification_round", slug=operation.slug, round_id=round_.pk)
    else:
        form = RoundForm(operation=operation, initial={"started_on": timezone.localdate()})
    return render(
        request,
        "registration/assist_rounds.html",
        {"operation": operation, "rounds": list(verification.round_list(operation)), "form": form},
    )


def _verified_on(request) -> dt.date:
    try:
        value = dt.date.fromisoformat(request.GET.get("on") or request.POST.get("verified_on") or "")
    except ValueError:
        return timezone.localdate()
    return min(value, timezone.localdate())


def _round_rows(round_: VerificationRound, households, names: dict[int, str]) -> list[dict]:
    return [
        {
            "household": hh,
            "head_name": names.get(hh.pk, ""),
            "verification": next(iter(hh.this_round), None),
        }
        for hh in households
    ]


def _with_this_round(qs, round_):
    return qs.prefetch_related(
        Prefetch("verifications", queryset=Verification.objects.filter(round=round_), to_attr="this_round")
    )


@_page(Capability.VERIFY)
@require_http_methods(["GET"])
def verification_round(request, operation, round_id: int):
    """One round: every household of its site or area, to mark present, moved or not found."""
    round_ = get_object_or_404(
        VerificationRound.objects.select_related("site"), pk=round_id, operation=operation
    )
    households = verification.round_households(round_)
    q = request.GET.get("q", "").strip()[:64]
    show = request.GET.get("show", "all")
    if q:
        households = households.filter(reference__icontains=q)
    if show == "unverified":
        households = households.exclude(verifications__round=round_)
    page = Paginator(_with_this_round(households, round_), ROUND_HOUSEHOLDS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    shown = list(page.object_list)
    names = _head_names(request.user, operation, shown)
    if shown:
        access.log_access(
            user=request.user,
            operation=operation,
            action=AccessLog.Action.VIEW,
            purpose=Purpose.VERIFICATION,
            object_type="registration.household",
            object_ids=[h.pk for h in shown],
            detail={"round": round_.pk, "names": bool(names)},
        )
    return render(
        request,
        "registration/assist_round.html",
        {
            "operation": operation,
            "round": round_,
            "summary": verification.round_summary(round_),
            "rows": _round_rows(round_, shown, names),
            "page": page,
            "q": q,
            "show": show,
            "verified_on": _verified_on(request),
            "today": timezone.localdate(),
            "open": round_.status == VerificationRound.Status.OPEN,
        },
    )


@_page(Capability.VERIFY)
@require_POST
def verification_mark(request, operation, round_id: int, reference: str):
    """Record one household's outcome; htmx gets the row back, a plain form goes back to the list."""
    round_ = get_object_or_404(VerificationRound, pk=round_id, operation=operation)
    household = get_object_or_404(Household, operation=operation, reference=reference)
    error = ""
    members = request.POST.get("members_present", "").strip()
    try:
        verification.verification_record(
            round=round_,
            household=household,
            outcome=request.POST.get("outcome", ""),
            moved_to_pcode=request.POST.get("moved_to_pcode", "")
            if request.POST.get("outcome") == "moved"
            else "",
            members_present=int(members) if members.isdigit() else None,
            verified_on=_verified_on(request),
            by=request.user,
        )
    except ValidationError as exc:
        error = " ".join(exc.messages)
    if request.headers.get("HX-Request"):
        household = _with_this_round(Household.objects.filter(pk=household.pk), round_).get()
        names = _head_names(request.user, operation, [household])
        (row,) = _round_rows(round_, [household], names)
        return render(
            request,
            "registration/assist_round_row.html",
            {
                "operation": operation,
                "round": round_,
                "row": row,
                "error": error,
                "verified_on": _verified_on(request),
                "open": True,
            },
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(
            request, _("Household %(reference)s: recorded.") % {"reference": household.reference}
        )
    url = reverse("registration:verification_round", kwargs={"slug": operation.slug, "round_id": round_.pk})
    return redirect(f"{url}?on={_verified_on(request).isoformat()}#hh-{household.pk}")


@_page(Capability.VERIFY)
@require_POST
def verification_close(request, operation, round_id: int):
    round_ = get_object_or_404(VerificationRound, pk=round_id, operation=operation)
    verification.round_close(round=round_, by=request.user)
    messages.success(request, _("The round is closed."))
    return redirect("registration:verification_round", slug=operation.slug, round_id=round_.pk)


# --- aggregates --------------------------------------------------------------------------------


class MonthsForm(forms.Form):
    date_from = forms.DateField(
        label=gettext_lazy("From month"), required=False, input_formats=["%Y-%m", "%Y-%m-%d"]
    )
    date_to = forms.DateField(
        label=gettext_lazy("To month"), required=False, input_formats=["%Y-%m", "%Y-%m-%d"]
    )
    item = forms.CharField(label=gettext_lazy("Item"), required=False, max_length=32)


def _add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


@_page(None)
@require_http_methods(["GET"])
def assistance_overview(request, operation):
    """Households and individuals assisted by area, item and month — never a list of people."""
    form = MonthsForm(request.GET)
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    last = assistance_figures.latest_month(operation) or assistance_figures.month_of(timezone.localdate())
    end = assistance_figures.month_of(data.get("date_to") or last)
    start = assistance_figures.month_of(data.get("date_from") or _add_months(end, 1 - MONTHS_SHOWN))
    if start > end:
        start, end = end, start
    exact = access.personal_can(request.user, operation, Capability.DISTRIBUTE)
    figures, report = assistance_figures.assistance_figures(
        operation=operation, date_from=start, date_to=assistance_figures.month_end(end), exact=exact
    )
    if data.get("item"):
        figures = [f for f in figures if f.item_code == data["item"].strip().upper()]
    rows = assistance_figures.figures_table(figures)
    published = {p.period_start: p for p in assistance_figures.publications(operation)}
    for row in rows:
        row["published"] = row["month"] in published
    months = sorted({r["month"] for r in rows}, reverse=True)
    return render(
        request,
        "registration/assist_aggregates.html",
        {
            "operation": operation,
            "rows": rows,
            "months": months,
            "start": start,
            "end": end,
            "item": (data.get("item") or "").upper(),
            "exact": exact,
            "suppressed": (report or {}).get("suppressed_total", 0),
            "threshold": (report or {}).get("threshold") or assistance_figures.disclosure_threshold(),
            "items": assistance.catalogue(operation),
            "publications": list(published.values()),
            "may_publish": can(request.user, Action.PUBLISH, operation),
            "publish_months": [
                _add_months(assistance_figures.month_of(timezone.localdate()), -i) for i in range(12)
            ],
            "households_total": sum(r["households"] or 0 for r in rows if r["admin_level"] == 1),
        },
    )


@_page(None)
@require_POST
def assistance_publish(request, operation):
    try:
        publication = assistance_figures.assistance_publish(
            operation=operation, period=request.POST.get("period", ""), by=request.user
        )
    except ValidationError as exc:  # a refusal (PermissionDenied) is a 403, as on every other page
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(
            request,
            _("Published %(month)s: the public API now answers its figures (small cells suppressed).")
            % {"month": publication.period_start.strftime("%Y-%m")},
        )
    return redirect("registration:distributions", slug=operation.slug)


urlpatterns = [
    path(
        "<slug:slug>/households/<str:reference>/distribute/",
        household_distribute,
        name="household_distribute",
    ),
    path("<slug:slug>/verification/", verification_rounds, name="verification_rounds"),
    path("<slug:slug>/verification/<int:round_id>/", verification_round, name="verification_round"),
    path(
        "<slug:slug>/verification/<int:round_id>/households/<str:reference>/",
        verification_mark,
        name="verification_mark",
    ),
    path("<slug:slug>/verification/<int:round_id>/close/", verification_close, name="verification_close"),
    path("<slug:slug>/assistance/", assistance_overview, name="distributions"),
    path("<slug:slug>/assistance/publish/", assistance_publish, name="assistance_publish"),
]

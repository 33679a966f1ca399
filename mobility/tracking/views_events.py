"""Pages for emergency event tracking, alerts and site assessments. Thin: reads via selectors, writes via services.

Every page needs view rights in the operation; ETT and site pages are not public yet.
"""

from __future__ import annotations

import csv
from collections import defaultdict

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from mobility.core.models import Operation, PopulationGroup, Round
from mobility.core.permissions import Action, can
from mobility.core.tables import neutralise
from mobility.gazetteer.models import Location

from . import events as ett
from .importers.sites import ACCESSIBILITY, MANAGEMENT_AGENCIES, SITE_TYPES
from .models import Alert, AlertRule, Assessment, AssessmentType, Event, EventType, Sector

EVENTS_PER_PAGE = 50
BOUNDARIES_URL = "/api/v1/gazetteer/boundaries"


def _operation(request, slug: str, action: Action = Action.VIEW) -> Operation:
    """The operation, when the user may do the action in it (anonymous users are sent to log in)."""
    operation = get_object_or_404(Operation, slug=slug)
    if not request.user.is_authenticated:
        raise _LoginRequired
    if not can(request.user, action, operation):
        raise PermissionDenied
    return operation


class _LoginRequired(Exception):
    pass


def _view(action: Action = Action.VIEW):
    """Decorator: resolve the operation from the slug with the right, or answer 302 (login) / 403."""

    def wrap(fn):
        def inner(request, slug, *args, **kwargs):
            try:
                operation = _operation(request, slug, action)
            except _LoginRequired:
                return redirect_to_login(request.get_full_path())
            return fn(request, operation, *args, **kwargs)

        inner.__name__ = fn.__name__
        inner.__doc__ = fn.__doc__
        return inner

    return wrap


def _context(request, operation, tab, **extra):
    return {
        "operation": operation,
        "tab": tab,
        "may_import": can(request.user, Action.IMPORT, operation),
        "may_manage": can(request.user, Action.MANAGE, operation),
        "open_alert_count": Alert.objects.filter(
            rule__operation=operation, acknowledged_at__isnull=True
        ).count(),
        **extra,
    }


# --- events ----------------------------------------------------------------------------------------


class EventFilterForm(forms.Form):
    event_type = forms.ChoiceField(label=gettext_lazy("Type"), required=False)
    date_from = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    area = forms.CharField(
        label=gettext_lazy("Area (p-code)"),
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"size": 10}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event_type"].choices = [("", gettext_lazy("All types")), *EventType.choices]

    def filters(self) -> ett.EventFilter:
        if not self.is_valid():
            return ett.EventFilter()
        data = self.cleaned_data
        return ett.EventFilter(
            event_type=data["event_type"] or None,
            date_from=data["date_from"],
            date_to=data["date_to"],
            area=(data["area"] or "").strip() or None,
        )


@_view()
def event_list(request, operation):
    """Events of the operation with their totals, filtered by type, dates and area."""
    form = EventFilterForm(request.GET or None)
    qs = ett.event_list(operation=operation, filters=form.filters())
    page = Paginator(qs, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    names = ett.area_names(
        operation.country_iso3, {e.admin3_code or e.admin2_code or e.admin1_code for e in page.object_list}
    )
    rows = [{"event": e, "place": ett.event_place(e, names)} for e in page.object_list]
    totals = qs.aggregate(n=Sum("movements__individuals"))
    return render(
        request,
        "tracking/event_list.html",
        _context(
            request,
            operation,
            "events",
            form=form,
            page=page,
            rows=rows,
            total=totals["n"] or 0,
            open_alerts=ett.open_alerts(operation=operation, user=request.user, limit=5),
        ),
    )


def _map_data(operation: Operation, event: Event, movements) -> dict:
    pcodes = {event.admin3_code or event.admin2_code or event.admin1_code}
    for m in movements:
        pcodes.add(m.from_admin3_code or m.from_admin2_code or m.from_admin1_code)
        pcodes.add(m.to_admin3_code or m.to_admin2_code or m.to_admin1_code)
    points = ett.area_points(operation.country_iso3, pcodes)
    names = ett.area_names(operation.country_iso3, pcodes)
    lines = []
    for m in movements:
        start = points.get(m.from_admin3_code or m.from_admin2_code or m.from_admin1_code)
        if m.to_location_id and m.to_location.latitude is not None:
            end = (m.to_location.latitude, m.to_location.longitude)
            end_name = m.to_location.name
        else:
            to_code = m.to_admin3_code or m.to_admin2_code or m.to_admin1_code
            end, end_name = points.get(to_code), names.get(to_code, to_code)
        if start and end:
            from_code = m.from_admin3_code or m.from_admin2_code or m.from_admin1_code
            lines.append(
                {
                    "from": start,
                    "to": end,
                    "individuals": m.individuals,
                    "label": f"{names.get(from_code, from_code)} → {end_name}",
                }
            )
    origin = points.get(event.admin3_code or event.admin2_code or event.admin1_code)
    return {"lines": lines, "origin": origin}


@_view()
def event_detail(request, operation, code):
    """One event: what, when, where, its movements in a table and from → to on a map."""
    event = get_object_or_404(Event.objects.select_related("location"), operation=operation, code=code)
    movements = list(event.movements.select_related("to_location"))
    pcodes = set()
    for m in movements:
        pcodes |= {
            m.from_admin1_code,
            m.from_admin2_code,
            m.from_admin3_code,
            m.to_admin1_code,
            m.to_admin2_code,
            m.to_admin3_code,
        }
    pcodes |= {event.admin1_code, event.admin2_code, event.admin3_code}
    names = ett.area_names(operation.country_iso3, pcodes)

    def place(prefix, m):
        code_ = (
            getattr(m, f"{prefix}_admin3_code")
            or getattr(m, f"{prefix}_admin2_code")
            or getattr(m, f"{prefix}_admin1_code")
        )
        return {"code": code_, "name": names.get(code_, "")}

    rows = [
        {
            "movement": m,
            "from": place("from", m),
            "to": place("to", m),
            "needs": [Sector(n).label for n in m.initial_needs if n in Sector.values],
        }
        for m in movements
    ]
    total = sum(m.individuals for m in movements)
    households = sum(m.households or 0 for m in movements)
    boundaries = (
        f"{BOUNDARIES_URL}?location_code={operation.country_iso3}&parent_code={event.admin1_code}"
        if event.admin1_code
        else (f"{BOUNDARIES_URL}?location_code={operation.country_iso3}&admin_level=1")
    )
    return render(
        request,
        "tracking/event_detail.html",
        _context(
            request,
            operation,
            "events",
            event=event,
            place=ett.event_place(event, names),
            rows=rows,
            total=total,
            households=households,
            alerts=event.alerts.select_related("rule", "acknowledged_by"),
            map_data=_map_data(operation, event, movements),
            boundaries_url=boundaries,
        ),
    )


# --- alerts ----------------------------------------------------------------------------------------


@_view()
def alert_list(request, operation):
    """Open alerts first, then acknowledged ones; data managers acknowledge them here."""
    show_all = request.GET.get("all") == "1"
    alerts = ett.alert_list(operation=operation, open_only=not show_all).annotate(
        total=Sum("event__movements__individuals")
    )
    return render(
        request,
        "tracking/alert_list.html",
        _context(
            request,
            operation,
            "alerts",
            alerts=alerts[:200],
            show_all=show_all,
            may_acknowledge=_may_acknowledge(request.user, operation),
        ),
    )


def _may_acknowledge(user, operation) -> bool:
    return can(user, Action.IMPORT, operation) or can(user, Action.PUBLISH, operation)


@require_POST
def alert_acknowledge(request, slug, alert_id):
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("tracking:alerts", args=[slug]))
    operation = get_object_or_404(Operation, slug=slug)
    if not _may_acknowledge(request.user, operation):
        raise PermissionDenied
    alert = get_object_or_404(Alert, pk=alert_id, rule__operation=operation)
    try:
        ett.alert_acknowledge(alert=alert, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Alert acknowledged."))
    next_url = request.POST.get("next", "")
    if next_url.startswith("/") and not next_url.startswith("//"):
        return redirect(next_url)
    return redirect("tracking:alerts", slug=operation.slug)


class AlertRuleForm(forms.Form):
    min_individuals = forms.IntegerField(
        label=gettext_lazy("At least this many individuals"),
        required=False,
        min_value=1,
        help_text=gettext_lazy("Total of an event's movements."),
    )
    watched_pcode = forms.CharField(
        label=gettext_lazy("Watched area (p-code)"),
        required=False,
        max_length=32,
        help_text=gettext_lazy(
            "Any event in this area or under it, e.g. MZ0110. With a minimum, both must hold."
        ),
    )
    subscribers = forms.ModelMultipleChoiceField(
        label=gettext_lazy("E-mail these members"),
        queryset=get_user_model().objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, operation: Operation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subscribers"].queryset = (
            get_user_model()
            .objects.filter(memberships__operation=operation, is_active=True)
            .distinct()
            .order_by("username")
        )
        self.fields["subscribers"].label_from_instance = lambda u: (
            u.get_username() + ("" if u.email else " " + _("(no e-mail address)"))
        )


@_view()
def alert_rules(request, operation):
    """The operation's alert rules; admins of the operation create and delete them."""
    may_manage = can(request.user, Action.MANAGE, operation)
    form = AlertRuleForm(request.POST or None, operation=operation)
    if request.method == "POST":
        if not may_manage:
            raise PermissionDenied
        if form.is_valid():
            try:
                ett.alert_rule_create(
                    operation=operation,
                    min_individuals=form.cleaned_data["min_individuals"],
                    watched_pcode=form.cleaned_data["watched_pcode"],
                    subscribers=form.cleaned_data["subscribers"],
                    by=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, " ".join(exc.messages))
            else:
                messages.success(request, _("Alert rule created; it applies from the next event import."))
                return redirect("tracking:alert_rules", slug=operation.slug)
    rules = (
        AlertRule.objects.filter(operation=operation)
        .prefetch_related("subscribers")
        .annotate(alert_count=Count("alerts"))
        .order_by("pk")
    )
    names = ett.area_names(operation.country_iso3, {r.watched_pcode for r in rules})
    rows = [{"rule": r, "area_name": names.get(r.watched_pcode, "")} for r in rules]
    return render(
        request,
        "tracking/alert_rules.html",
        _context(request, operation, "rules", form=form, rules=rows),
    )


@require_POST
def alert_rule_delete(request, slug, rule_id):
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("tracking:alert_rules", args=[slug]))
    operation = get_object_or_404(Operation, slug=slug)
    if not can(request.user, Action.MANAGE, operation):
        raise PermissionDenied
    rule = get_object_or_404(AlertRule, pk=rule_id, operation=operation)
    ett.alert_rule_delete(rule=rule, by=request.user)
    messages.success(request, _("Alert rule deleted."))
    return redirect("tracking:alert_rules", slug=operation.slug)


# --- ETT since the last round ----------------------------------------------------------------------


@_view()
def ett_since_last_round(request, operation):
    """Per district: what ETT reported arriving since the previous round, beside what this round found."""
    rounds = list(
        Round.objects.filter(operation=operation)
        .exclude(status=Round.Status.SUPERSEDED)
        .order_by("-end_date", "-number")
    )
    chosen = None
    if request.GET.get("round"):
        chosen = next((r for r in rounds if str(r.pk) == request.GET["round"]), None)
    if chosen is None:
        chosen = next(
            (r for r in rounds if r.status == Round.Status.PUBLISHED), rounds[0] if rounds else None
        )
    comparison = ett.ett_since_last_round(round=chosen) if chosen else None
    if comparison and request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        filename = f"ett-since-last-round-{operation.slug}-round-{chosen.number}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        writer = csv.writer(response)
        writer.writerow(ett.ETT_CSV_COLUMNS)
        for row in ett.ett_comparison_rows(comparison):
            writer.writerow([neutralise(v) for v in row])
        return response
    return render(
        request,
        "tracking/event_since_round.html",
        _context(request, operation, "ett", rounds=rounds, chosen=chosen, comparison=comparison),
    )


# --- sites -----------------------------------------------------------------------------------------


@_view()
def site_list(request, operation):
    """Sites assessed in the operation, with their latest figures."""
    assessments = (
        Assessment.objects.filter(operation=operation, assessment_type=AssessmentType.SITE)
        .exclude(round__status=Round.Status.SUPERSEDED)
        .select_related("round", "location")
        .annotate(total=Sum("figures__individuals"))
        .order_by("place_key", "-round__number", "-round__version")
    )
    latest = {}
    rounds_per_site = defaultdict(int)
    for a in assessments:
        rounds_per_site[a.place_key] += 1
        latest.setdefault(a.place_key, a)
    names = ett.area_names(operation.country_iso3, {a.admin2_code for a in latest.values()})
    rows = [
        {
            "assessment": a,
            "rounds": rounds_per_site[a.place_key],
            "district": names.get(a.admin2_code, a.admin2_code),
            "type": SITE_TYPES.get(a.site_profile.get("type", ""), ""),
        }
        for a in latest.values()
    ]
    return render(request, "tracking/site_list.html", _context(request, operation, "sites", rows=rows))


@_view()
def site_detail(request, operation, code):
    """A site: its profile, population across rounds and sector indicators across rounds."""
    location = Location.objects.filter(code=code, type=Location.Type.SITE).first()
    assessments = list(
        Assessment.objects.filter(operation=operation, assessment_type=AssessmentType.SITE, place_key=code)
        .exclude(round__status=Round.Status.SUPERSEDED)
        .select_related("round")
        .prefetch_related("figures", "indicators")
        .order_by("round__number", "round__version")
    )
    if not assessments and (location is None or location.operation_id not in (None, operation.pk)):
        raise Http404
    latest = assessments[-1] if assessments else None
    profile = []
    if latest:
        p = latest.site_profile
        if p.get("type"):
            profile.append((_("Site type"), SITE_TYPES.get(p["type"], p["type"])))
        if p.get("management"):
            profile.append((_("Management"), MANAGEMENT_AGENCIES.get(p["management"], p["management"])))
        if p.get("management_agency_name"):
            profile.append((_("Management agency"), p["management_agency_name"]))
        if p.get("accessibility"):
            profile.append((_("Accessibility"), ACCESSIBILITY.get(p["accessibility"], p["accessibility"])))
        if latest.key_informants is not None:
            profile.append((_("Key informants"), latest.key_informants))
    groups = [
        g
        for g in PopulationGroup.values
        if any(f.population_group == g for a in assessments for f in a.figures.all())
    ]
    demographics = []
    for a in assessments:
        by_group = {f.population_group: f for f in a.figures.all()}
        demographics.append({"assessment": a, "cells": [by_group.get(g) for g in groups]})
    # Indicators: sector → indicator → [value per round]
    sectors: dict[str, dict[str, list]] = {}
    for i, a in enumerate(assessments):
        for value in a.indicators.all():
            row = sectors.setdefault(value.sector, {}).setdefault(value.indicator, [None] * len(assessments))
            value.display = value.value_text.replace("_", " ") if value.kind == "choice" else value.value_text
            row[i] = value
    indicator_sections = [
        {
            "sector": sector,
            "label": Sector(sector).label if sector in Sector.values else sector,
            "rows": [
                {"indicator": name, "label": name.replace("_", " "), "values": values}
                for name, values in sorted(rows.items())
            ],
        }
        for sector, rows in sorted(
            sectors.items(), key=lambda kv: Sector.values.index(kv[0]) if kv[0] in Sector.values else 99
        )
    ]
    codes = [getattr(location, f"admin{n}_code") for n in (1, 2, 3)] if location else []
    names = ett.area_names(operation.country_iso3, codes)
    place = [(n, code_, names.get(code_, "")) for n, code_ in enumerate(codes, start=1) if code_]
    return render(
        request,
        "tracking/site_detail.html",
        _context(
            request,
            operation,
            "sites",
            code=code,
            location=location,
            place=place,
            assessments=assessments,
            latest=latest,
            profile=profile,
            groups=[(g, PopulationGroup(g).label) for g in groups],
            demographics=demographics,
            indicator_sections=indicator_sections,
        ),
    )


urlpatterns = [
    path("<slug:slug>/events/", event_list, name="events"),
    path("<slug:slug>/events/<str:code>/", event_detail, name="event_detail"),
    path("<slug:slug>/alerts/", alert_list, name="alerts"),
    path("<slug:slug>/alerts/<int:alert_id>/acknowledge/", alert_acknowledge, name="alert_acknowledge"),
    path("<slug:slug>/alert-rules/", alert_rules, name="alert_rules"),
    path("<slug:slug>/alert-rules/<int:rule_id>/delete/", alert_rule_delete, name="alert_rule_delete"),
    path("<slug:slug>/ett-since-last-round/", ett_since_last_round, name="ett_since_last_round"),
    path("<slug:slug>/sites/", site_list, name="sites"),
    path("<slug:slug>/sites/<str:code>/", site_detail, name="site_detail"),
]

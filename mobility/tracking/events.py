"""Emergency event tracking (ETT): events and the group movements they caused, alert rules and alerts.

Writes (``event_upsert``, ``movement_upsert``, ``events_write``, ``alerts_evaluate``,
``alert_acknowledge``, ``alert_rule_create``, ``alert_rule_delete``) and the reads the pages use
(``event_list``, ``open_alerts``, ``ett_since_last_round``...). Vocabularies map the free text sources
write ("Armed attack", "Cheias", "Cyclone Freddy") to the project's codes.

Alerts never carry personal data: an alert names an event's type, date, place and total.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from mobility.core.imports import Counts
from mobility.core.models import ImportJob, Operation, PopulationGroup, Round
from mobility.core.permissions import Action, can
from mobility.core.services import audit_record
from mobility.gazetteer.models import AdminArea, GazetteerVersion, Location

from .models import (
    Alert,
    AlertRule,
    AreaFigure,
    AssessmentType,
    Event,
    EventType,
    GroupMovement,
    Sector,
    ShelterType,
)

log = logging.getLogger(__name__)

EVENT_TYPE_UNKNOWN = "{value!r} is not an event type; use one of: {allowed}."
SHELTER_UNKNOWN = "{value!r} is not a shelter type; use one of: {allowed}."
NEED_UNKNOWN = "{value!r} is not a sector; use sector codes: {allowed}."
EVENT_PCODE_UNKNOWN = "{pcode} is not a p-code of the current {country} gazetteer."
ALERT_RULE_EMPTY = "An alert rule needs a minimum number of individuals, a watched p-code, or both."
ALERT_RULE_PCODE_UNKNOWN = "{pcode} is not a p-code of the current {country} gazetteer."
ALERT_ALREADY_ACKNOWLEDGED = "This alert was already acknowledged."
ALERT_SUBSCRIBER_NOT_MEMBER = "{username} cannot view this operation, so cannot be told about its events."
ALERT_REASON_SIZE = "at least {n} individuals moved"
ALERT_REASON_AREA = "in watched area {pcode}"
ALERT_SUBJECT = "[Mobility] {event_type} on {date} in {place}: {total} individuals"

# --- vocabularies --------------------------------------------------------------------------------


def plain_text(text) -> str:
    """Lower case, accents and punctuation removed, single spaces: the key vocabularies compare."""
    text = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


# Word stems found in the free text field teams write (EN/PT/FR), checked in this order: a
# "cyclone with floods" is a cyclone, an "attack causing fire" is conflict.
EVENT_TYPE_WORDS: list[tuple[str, tuple[str, ...]]] = [
    (
        EventType.CONFLICT,
        (
            "conflict",
            "armed",
            "attack",
            "insurg",
            "insecur",
            "violence",
            "clash",
            "fighting",
            "ataque",
            "ataques",
            "conflito",
            "inseguranca",
            "violencia",
            "conflit",
            "attaque",
        ),
    ),
    (EventType.CYCLONE, ("cyclone", "ciclone", "storm", "tempete", "tempestade", "hurricane", "typhoon")),
    (EventType.FLOOD, ("flood", "cheia", "cheias", "inundac", "inondation", "inundation")),
    (EventType.DROUGHT, ("drought", "seca", "secheresse")),
    (EventType.EARTHQUAKE, ("earthquake", "sismo", "terremoto", "seisme", "tremblement")),
    (EventType.FIRE, ("fire", "incendi", "queimada", "fogo")),
    (EventType.EVICTION, ("eviction", "evicted", "despejo", "expulsion", "demolition")),
    (EventType.OTHER, ("other", "outro", "autre")),
]

SHELTER_WORDS: dict[str, str] = {
    **{value: value for value in ShelterType.values},
    "host family": ShelterType.HOST_FAMILY,
    "host families": ShelterType.HOST_FAMILY,
    "with host families": ShelterType.HOST_FAMILY,
    "host community": ShelterType.HOST_FAMILY,
    "familia de acolhimento": ShelterType.HOST_FAMILY,
    "familias de acolhimento": ShelterType.HOST_FAMILY,
    "familia acolhedora": ShelterType.HOST_FAMILY,
    "famille d accueil": ShelterType.HOST_FAMILY,
    "rented": ShelterType.RENTED,
    "rent": ShelterType.RENTED,
    "arrendada": ShelterType.RENTED,
    "own house": ShelterType.OWN_HOUSE,
    "casa propria": ShelterType.OWN_HOUSE,
    "camp": ShelterType.CAMP,
    "planned site": ShelterType.CAMP,
    "camp planned site": ShelterType.CAMP,
    "resettlement site": ShelterType.CAMP,
    "centro de reassentamento": ShelterType.CAMP,
    "collective centre": ShelterType.COLLECTIVE_CENTRE,
    "collective center": ShelterType.COLLECTIVE_CENTRE,
    "school": ShelterType.COLLECTIVE_CENTRE,
    "escola": ShelterType.COLLECTIVE_CENTRE,
    "ecole": ShelterType.COLLECTIVE_CENTRE,
    "church": ShelterType.COLLECTIVE_CENTRE,
    "igreja": ShelterType.COLLECTIVE_CENTRE,
    "tenda": ShelterType.EMERGENCY_SHELTER,
    "tente": ShelterType.EMERGENCY_SHELTER,
    "centro de acomodacao": ShelterType.COLLECTIVE_CENTRE,
    "centro de acolhimento": ShelterType.COLLECTIVE_CENTRE,
    "spontaneous site": ShelterType.SPONTANEOUS_SITE,
    "informal site": ShelterType.SPONTANEOUS_SITE,
    "spontaneous informal site": ShelterType.SPONTANEOUS_SITE,
    "emergency shelter": ShelterType.EMERGENCY_SHELTER,
    "tent": ShelterType.EMERGENCY_SHELTER,
    "tents": ShelterType.EMERGENCY_SHELTER,
    "emergency shelter tent": ShelterType.EMERGENCY_SHELTER,
    "open air": ShelterType.OPEN_AIR,
    "no shelter": ShelterType.OPEN_AIR,
    "open air no shelter": ShelterType.OPEN_AIR,
    "ao relento": ShelterType.OPEN_AIR,
    "other": ShelterType.OTHER,
}

NEED_WORDS: dict[str, str] = {
    **{value: value for value in Sector.values},
    "water": Sector.WASH,
    "sanitation": Sector.WASH,
    "hygiene": Sector.WASH,
    "agua": Sector.WASH,
    "food security": Sector.FOOD,
    "alimentacao": Sector.FOOD,
    "comida": Sector.FOOD,
    "nutrition": Sector.FOOD,
    "saude": Sector.HEALTH,
    "sante": Sector.HEALTH,
    "medical": Sector.HEALTH,
    "nfi": Sector.SHELTER,
    "shelter and nfi": Sector.SHELTER,
    "abrigo": Sector.SHELTER,
    "non food items": Sector.SHELTER,
    "protecao": Sector.PROTECTION,
    "livelihood": Sector.LIVELIHOODS,
    "meios de subsistencia": Sector.LIVELIHOODS,
    "information": Sector.COMMUNICATION,
    "communications": Sector.COMMUNICATION,
    "educacao": Sector.EDUCATION,
    "cccm": Sector.SITE,
    "site management": Sector.SITE,
}
_NEED_SPLIT = re.compile(r"[;,|/\n]+")


def event_type_from_text(text) -> str | None:
    """The EventType code for a source's free text ("Armed attack" → conflict), or None."""
    key = plain_text(text)
    if not key:
        return None
    if key in EventType.values:
        return key
    words = key.split()
    for code, stems in EVENT_TYPE_WORDS:
        if any(word.startswith(stem) for stem in stems for word in words):
            return str(code)
    return None


def shelter_from_text(text) -> str | None:
    """The ShelterType code for free text, "" for an empty cell, None when it cannot be mapped."""
    key = plain_text(text)
    if not key:
        return ""
    key_underscored = key.replace(" ", "_")
    if key_underscored in ShelterType.values:
        return key_underscored
    code = SHELTER_WORDS.get(key)
    return None if code is None else str(code)


def needs_from_text(text) -> tuple[list[str], list[str]]:
    """(sector codes in the order given, parts that are not sectors) for "WASH; food, health"."""
    codes, unknown = [], []
    for part in _NEED_SPLIT.split(str(text or "")):
        key = plain_text(part)
        if not key:
            continue
        code = NEED_WORDS.get(key) or NEED_WORDS.get(key.replace(" ", "_"))
        if code is None:
            unknown.append(part.strip())
        elif str(code) not in codes:
            codes.append(str(code))
    return codes, unknown


# --- records the importer produces ---------------------------------------------------------------


@dataclass
class MovementRecord:
    code: str
    individuals: int
    households: int | None = None
    population_group: str = PopulationGroup.IDP
    from_codes: dict[str, str] = field(default_factory=dict)  # admin1_code.. admin3_code
    to_codes: dict[str, str] = field(default_factory=dict)
    to_location_id: int | None = None
    shelter: str = ""
    initial_needs: list[str] = field(default_factory=list)


@dataclass
class EventRecord:
    code: str
    event_type: str
    date: dt.date
    country_iso3: str
    codes: dict[str, str] = field(default_factory=dict)  # admin1_code.. admin3_code of the place
    location_id: int | None = None
    description: str = ""
    movements: dict[str, MovementRecord] = field(default_factory=dict)
    first_row: int | None = None


# --- writes ----------------------------------------------------------------------------------------

_EVENT_FIELDS = ("event_type", "date", "country_iso3", "admin1_code", "admin2_code", "admin3_code")
_MOVEMENT_FIELDS = (
    "population_group",
    "households",
    "individuals",
    "from_admin1_code",
    "from_admin2_code",
    "from_admin3_code",
    "to_admin1_code",
    "to_admin2_code",
    "to_admin3_code",
    "to_location_id",
    "shelter",
    "initial_needs",
)


def _check_choice(value: str, choices, message: str) -> None:
    if value not in choices.values:
        raise ValidationError(message.format(value=value, allowed=", ".join(choices.values)))


def event_upsert(
    *,
    operation: Operation,
    code: str,
    event_type: str,
    date: dt.date,
    admin1_code: str = "",
    admin2_code: str = "",
    admin3_code: str = "",
    location: Location | None = None,
    description: str = "",
    country_iso3: str | None = None,
    import_job: ImportJob | None = None,
) -> tuple[Event, str]:
    """Create or update an event by (operation, code); (event, "created" | "updated" | "unchanged")."""
    _check_choice(event_type, EventType, EVENT_TYPE_UNKNOWN)
    values = {
        "event_type": event_type,
        "date": date,
        "country_iso3": (country_iso3 or operation.country_iso3).upper(),
        "admin1_code": admin1_code,
        "admin2_code": admin2_code,
        "admin3_code": admin3_code,
        "location_id": location.pk if location else None,
        "description": description,
    }
    event = Event.objects.filter(operation=operation, code=code.strip()).first()
    if event is None:
        event, outcome = (
            Event(operation=operation, code=code.strip(), import_job=import_job, **values),
            "created",
        )
    elif all(getattr(event, name) == value for name, value in values.items()):
        return event, "unchanged"
    else:
        for name, value in values.items():
            setattr(event, name, value)
        event.import_job = import_job or event.import_job
        outcome = "updated"
    event.full_clean()
    event.save()
    return event, outcome


def movement_upsert(
    *,
    event: Event,
    code: str,
    individuals: int,
    households: int | None = None,
    population_group: str = PopulationGroup.IDP,
    from_codes: dict[str, str] | None = None,
    to_codes: dict[str, str] | None = None,
    to_location: Location | None = None,
    shelter: str = "",
    initial_needs: Iterable[str] = (),
) -> tuple[GroupMovement, str]:
    """Create or update a group movement by (event, code); (movement, "created" | "updated" | "unchanged")."""
    if shelter:
        _check_choice(shelter, ShelterType, SHELTER_UNKNOWN)
    needs = list(initial_needs)
    for need in needs:
        _check_choice(need, Sector, NEED_UNKNOWN)
    from_codes, to_codes = from_codes or {}, to_codes or {}
    values = {
        "population_group": population_group,
        "households": households,
        "individuals": individuals,
        **{f"from_admin{n}_code": from_codes.get(f"admin{n}_code", "") for n in (1, 2, 3)},
        **{f"to_admin{n}_code": to_codes.get(f"admin{n}_code", "") for n in (1, 2, 3)},
        "to_location_id": to_location.pk if to_location else None,
        "shelter": shelter,
        "initial_needs": needs,
    }
    movement = GroupMovement.objects.filter(event=event, code=code).first()
    if movement is None:
        movement, outcome = GroupMovement(event=event, code=code, **values), "created"
    elif all(getattr(movement, name) == value for name, value in values.items()):
        return movement, "unchanged"
    else:
        for name, value in values.items():
            setattr(movement, name, value)
        outcome = "updated"
    movement.full_clean()
    movement.save()
    return movement, outcome


def events_write(
    *, operation: Operation, records: Iterable[EventRecord], job: ImportJob | None = None, progress=None
) -> Counts:
    """Store events and their movements (idempotent), then evaluate the operation's alert rules.

    Movements an earlier import had but these records lack are kept and counted as "not_in_file":
    a partial file never deletes data. Counts are per movement row; events are in the summary.
    """
    counts = Counts()
    event_counts = {"created": 0, "updated": 0, "unchanged": 0}
    events: list[Event] = []
    not_in_file = 0
    records = list(records)
    location_ids = set()
    for record in records:
        location_ids.add(record.location_id)
        location_ids.update(m.to_location_id for m in record.movements.values())
    location_ids.discard(None)
    locations = Location.objects.in_bulk(location_ids)
    for record in records:
        event, outcome = event_upsert(
            operation=operation,
            code=record.code,
            event_type=record.event_type,
            date=record.date,
            country_iso3=record.country_iso3,
            location=locations.get(record.location_id),
            description=record.description,
            import_job=job,
            **{f"admin{n}_code": record.codes.get(f"admin{n}_code", "") for n in (1, 2, 3)},
        )
        event_counts[outcome] += 1
        events.append(event)
        seen = set()
        for movement in record.movements.values():
            _, outcome = movement_upsert(
                event=event,
                code=movement.code,
                individuals=movement.individuals,
                households=movement.households,
                population_group=movement.population_group,
                from_codes=movement.from_codes,
                to_codes=movement.to_codes,
                to_location=locations.get(movement.to_location_id),
                shelter=movement.shelter,
                initial_needs=movement.initial_needs,
            )
            setattr(counts, outcome, getattr(counts, outcome) + 1)
            seen.add(movement.code)
            if progress:
                progress.advance()
        not_in_file += event.movements.exclude(code__in=seen).count()
    counts.summary["events"] = event_counts
    if not_in_file:
        counts.summary["not_in_file"] = not_in_file
    alerts = alerts_evaluate(events=events)
    counts.summary["alerts_created"] = len(alerts)
    return counts


# --- alerts ----------------------------------------------------------------------------------------


def _area_names(country_iso3: str, pcodes: Iterable[str]) -> dict[str, str]:
    pcodes = {p for p in pcodes if p}
    if not pcodes:
        return {}
    return dict(
        AdminArea.objects.filter(
            version__country_iso3=country_iso3, version__is_current=True, pcode__in=pcodes
        ).values_list("pcode", "name")
    )


def event_place(event: Event, names: dict[str, str] | None = None) -> str:
    """The deepest named area of the event, e.g. "Mocimboa Da Praia (MZ0110)"."""
    code = event.admin3_code or event.admin2_code or event.admin1_code
    if not code:
        return event.location.name if event.location_id else event.country_iso3
    if names is None:
        names = _area_names(event.country_iso3, [code])
    return f"{names.get(code, code)} ({code})" if names.get(code) else code


def _rule_matches(rule: AlertRule, event: Event, total: int) -> list[str]:
    """The reasons this rule fires for the event (empty when it does not)."""
    reasons = []
    if rule.min_individuals is not None:
        if total < rule.min_individuals:
            return []
        reasons.append(ALERT_REASON_SIZE.format(n=rule.min_individuals))
    if rule.watched_pcode:
        codes = {event.admin1_code, event.admin2_code, event.admin3_code, event.country_iso3}
        if rule.watched_pcode not in codes:
            return []
        reasons.append(ALERT_REASON_AREA.format(pcode=rule.watched_pcode))
    return reasons


def alerts_evaluate(*, events: Iterable[Event]) -> list[Alert]:
    """Create the alerts the events deserve under their operations' rules, once per (event, rule); e-mail them.

    E-mails go out after the transaction commits, so a rolled-back import sends nothing.
    """
    events = list(events)
    if not events:
        return []
    totals = dict(
        GroupMovement.objects.filter(event__in=events)
        .values_list("event_id")
        .annotate(total=Sum("individuals"))
        .values_list("event_id", "total")
    )
    rules_by_operation: dict[int, list[AlertRule]] = defaultdict(list)
    for rule in AlertRule.objects.filter(operation_id__in={e.operation_id for e in events}):
        rules_by_operation[rule.operation_id].append(rule)
    existing = set(Alert.objects.filter(event__in=events).values_list("event_id", "rule_id"))
    names: dict[str, dict[str, str]] = {}
    new: list[Alert] = []
    for event in events:
        total = totals.get(event.pk) or 0
        for rule in rules_by_operation.get(event.operation_id, []):
            if (event.pk, rule.pk) in existing:
                continue
            reasons = _rule_matches(rule, event, total)
            if not reasons:
                continue
            if event.country_iso3 not in names:
                names[event.country_iso3] = {}
            country_names = names[event.country_iso3]
            code = event.admin3_code or event.admin2_code or event.admin1_code
            if code and code not in country_names:
                country_names.update(_area_names(event.country_iso3, [code]))
            place = event_place(event, country_names)
            reason = (
                f"{EventType(event.event_type).label} {event.date.isoformat()} {place}: "
                f"{total} individuals ({'; '.join(reasons)})"
            )[:300]
            alert = Alert(event=event, rule=rule, reason=reason)
            alert.full_clean(validate_unique=False, validate_constraints=False)
            new.append(alert)
            existing.add((event.pk, rule.pk))
    # ignore_conflicts: a concurrent import of the same event cannot make a second alert.
    Alert.objects.bulk_create(new, ignore_conflicts=True)
    created = list(
        Alert.objects.filter(
            Q(*[Q(event_id=a.event_id, rule_id=a.rule_id) for a in new], _connector=Q.OR)
        ).select_related("event", "rule")
        if new
        else []
    )
    if created:
        alert_ids = [a.pk for a in created]
        transaction.on_commit(lambda: alerts_email(alert_ids=alert_ids))
    return created


def alert_email_text(alert: Alert, total: int, place: str) -> tuple[str, str]:
    """(subject, body) of an alert e-mail: event type, date, place and total only, never personal data."""
    event = alert.event
    subject = ALERT_SUBJECT.format(
        event_type=EventType(event.event_type).label, date=event.date.isoformat(), place=place, total=total
    )
    body = "\n".join(
        [
            f"Operation: {event.operation.name}",
            f"Event: {event.code} ({EventType(event.event_type).label})",
            f"Date: {event.date.isoformat()}",
            f"Place: {place}",
            f"Individuals who moved: {total}",
            f"Why: {alert.reason}",
            "",
            "Open the alerts page of the operation in Mobility to acknowledge it.",
        ]
    )
    return subject, body


def alerts_email(*, alert_ids: Iterable[int]) -> int:
    """Send one e-mail per alert to its rule's subscribers (blind copies); returns the messages sent."""
    sent = 0
    alerts = Alert.objects.filter(pk__in=list(alert_ids)).select_related(
        "event__operation", "event__location", "rule"
    )
    for alert in alerts:
        recipients = [
            email
            for email in alert.rule.subscribers.filter(is_active=True).values_list("email", flat=True)
            if email
        ]
        if not recipients:
            continue
        total = alert.event.movements.aggregate(n=Sum("individuals"))["n"] or 0
        subject, body = alert_email_text(alert, total, event_place(alert.event))
        message = EmailMessage(
            subject=subject[:200],
            body=body,
            from_email=getattr(settings, "DEFAULT_FROM_EMAIL", None),
            to=[],
            bcc=recipients,
        )
        try:
            sent += message.send()
        except Exception:  # a mail server outage must not undo an import that already committed
            log.exception("alert %s: e-mail could not be sent", alert.pk)
    return sent


@transaction.atomic
def alert_acknowledge(*, alert: Alert, by) -> Alert:
    """Mark an alert as seen and handled by this user."""
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.acknowledged_at is not None:
        raise ValidationError(ALERT_ALREADY_ACKNOWLEDGED)
    alert.acknowledged_by = by
    alert.acknowledged_at = timezone.now()
    alert.save(update_fields=["acknowledged_by", "acknowledged_at", "updated_at"])
    audit_record(action="alert.acknowledge", obj=alert, by=by, operation=alert.rule.operation)
    return alert


@transaction.atomic
def alert_rule_create(
    *,
    operation: Operation,
    min_individuals: int | None = None,
    watched_pcode: str = "",
    subscribers: Iterable = (),
    by=None,
) -> AlertRule:
    """A rule that alerts on events of at least ``min_individuals`` and/or in the watched area (both when both)."""
    watched_pcode = (watched_pcode or "").strip()
    if min_individuals is None and not watched_pcode:
        raise ValidationError(ALERT_RULE_EMPTY)
    if watched_pcode and watched_pcode.upper() != operation.country_iso3:
        exists = AdminArea.objects.filter(
            version__country_iso3=operation.country_iso3, version__is_current=True, pcode=watched_pcode
        ).exists()
        if not exists:
            raise ValidationError(
                ALERT_RULE_PCODE_UNKNOWN.format(pcode=watched_pcode, country=operation.country_iso3)
            )
    subscribers = list(subscribers)
    for user in subscribers:
        if not can(user, Action.VIEW, operation):
            raise ValidationError(ALERT_SUBSCRIBER_NOT_MEMBER.format(username=user.get_username()))
    rule = AlertRule(operation=operation, min_individuals=min_individuals, watched_pcode=watched_pcode)
    rule.full_clean()
    rule.save()
    rule.subscribers.set(subscribers)
    audit_record(action="alert_rule.create", obj=rule, by=by, operation=operation)
    return rule


@transaction.atomic
def alert_rule_delete(*, rule: AlertRule, by=None) -> None:
    """Delete a rule and its alerts."""
    audit_record(action="alert_rule.delete", obj=rule, by=by, operation=rule.operation)
    rule.delete()


# --- reads -----------------------------------------------------------------------------------------


@dataclass
class EventFilter:
    """What the events page (and the CLI) may ask for."""

    event_type: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    area: str | None = None  # a p-code: events in it or under it

    def q(self) -> Q:
        q = Q()
        if self.event_type:
            q &= Q(event_type=self.event_type)
        if self.date_from:
            q &= Q(date__gte=self.date_from)
        if self.date_to:
            q &= Q(date__lte=self.date_to)
        if self.area:
            q &= Q(admin1_code=self.area) | Q(admin2_code=self.area) | Q(admin3_code=self.area)
        return q


def event_list(*, operation: Operation, filters: EventFilter | None = None) -> QuerySet[Event]:
    """Events of the operation, newest first, with their movements' totals."""
    qs = Event.objects.filter(operation=operation)
    if filters:
        qs = qs.filter(filters.q())
    return qs.annotate(
        total_individuals=Sum("movements__individuals"),
        total_households=Sum("movements__households"),
        movement_count=Count("movements"),
    ).order_by("-date", "code")


def alert_list(*, operation: Operation, open_only: bool = False) -> QuerySet[Alert]:
    qs = Alert.objects.filter(rule__operation=operation).select_related("event", "rule", "acknowledged_by")
    if open_only:
        qs = qs.filter(acknowledged_at__isnull=True)
    return qs.order_by("-created_at", "-pk")


def open_alerts(*, operation: Operation, user, limit: int = 20) -> list[Alert]:
    """Alerts not yet acknowledged, newest first, for the dashboard; empty for users who cannot view."""
    if not can(user, Action.VIEW, operation):
        return []
    return list(alert_list(operation=operation, open_only=True)[:limit])


def area_names(country_iso3: str, pcodes: Iterable[str]) -> dict[str, str]:
    """{p-code: name} in the current gazetteer."""
    return _area_names(country_iso3, pcodes)


def area_points(country_iso3: str, pcodes: Iterable[str]) -> dict[str, tuple[float, float]]:
    """{p-code: (lat, lon)} of areas with a boundary: a point inside it, for drawing arrows."""
    import shapely

    pcodes = {p for p in pcodes if p}
    out = {}
    rows = AdminArea.objects.filter(
        version__country_iso3=country_iso3, version__is_current=True, pcode__in=pcodes
    ).exclude(geometry="")
    for pcode, geometry in rows.values_list("pcode", "geometry"):
        try:
            point = shapely.from_geojson(geometry).representative_point()
        except Exception:  # noqa: S112 - a broken boundary only loses its arrow
            continue
        out[pcode] = (round(point.y, 5), round(point.x, 5))
    return out


def current_gazetteer_exists(country_iso3: str) -> bool:
    return GazetteerVersion.objects.filter(country_iso3=country_iso3, is_current=True).exists()


# --- ETT since the last round ----------------------------------------------------------------------


def previous_round(round_: Round) -> Round | None:
    """The operation's latest round (not superseded) that ended before this one."""
    return (
        Round.objects.filter(operation_id=round_.operation_id, end_date__lt=round_.end_date)
        .exclude(status=Round.Status.SUPERSEDED)
        .exclude(pk=round_.pk)
        .order_by("-end_date", "-number", "-version")
        .first()
    )


@dataclass
class EttAreaRow:
    pcode: str
    name: str
    ett_individuals: int
    round_individuals: int | None
    previous_individuals: int | None

    @property
    def difference(self) -> int | None:
        """What the round found minus what ETT reported arriving."""
        return None if self.round_individuals is None else self.round_individuals - self.ett_individuals

    @property
    def change(self) -> int | None:
        if self.round_individuals is None or self.previous_individuals is None:
            return None
        return self.round_individuals - self.previous_individuals


@dataclass
class EttComparison:
    round: Round
    previous: Round | None
    window_start: dt.date  # exclusive when there is a previous round
    window_end: dt.date
    rows: list[EttAreaRow]
    unplaced_individuals: int  # arrivals ETT could not place in a district

    @property
    def totals(self) -> dict:
        return {
            "ett": sum(r.ett_individuals for r in self.rows),
            "round": sum(r.round_individuals or 0 for r in self.rows),
        }


def _idp_cells(round_: Round | None) -> dict[str, int]:
    """Admin2 IDP figures of a round: the baseline area cell, else the sub-area one."""
    if round_ is None:
        return {}
    out: dict[str, int] = {}
    cells = AreaFigure.objects.filter(
        round=round_, admin_level=2, population_group=PopulationGroup.IDP
    ).values_list("assessment_type", "pcode", "individuals")
    preference = [AssessmentType.BASELINE_AREA, AssessmentType.BASELINE_SUBAREA, AssessmentType.SITE]
    for atype in reversed(preference):
        for cell_type, pcode, individuals in cells:
            if cell_type == atype:
                out[pcode] = individuals
    return out


def ett_since_last_round(*, round: Round) -> EttComparison:  # noqa: A002 - the field's word
    """Per district (admin2): IDPs ETT reported arriving since the previous round's end, beside the round's figure."""
    previous = previous_round(round)
    start = previous.end_date if previous else round.start_date - dt.timedelta(days=1)
    movements = GroupMovement.objects.filter(
        event__operation_id=round.operation_id,
        event__date__gt=start,
        event__date__lte=round.end_date,
        population_group=PopulationGroup.IDP,
    )
    arrivals = dict(
        movements.exclude(to_admin2_code="")
        .values_list("to_admin2_code")
        .annotate(n=Sum("individuals"))
        .values_list("to_admin2_code", "n")
    )
    unplaced = movements.filter(to_admin2_code="").aggregate(n=Sum("individuals"))["n"] or 0
    found = _idp_cells(round)
    before = _idp_cells(previous)
    pcodes = sorted(set(arrivals) | set(found))
    names = _area_names(round.operation.country_iso3, pcodes)
    rows = [
        EttAreaRow(
            pcode=p,
            name=names.get(p, ""),
            ett_individuals=arrivals.get(p, 0),
            round_individuals=found.get(p),
            previous_individuals=before.get(p),
        )
        for p in pcodes
    ]
    rows.sort(key=lambda r: (-r.ett_individuals, r.pcode))
    return EttComparison(
        round=round,
        previous=previous,
        window_start=start,
        window_end=round.end_date,
        rows=rows,
        unplaced_individuals=unplaced,
    )


ETT_CSV_COLUMNS = (
    "admin2_code",
    "admin2_name",
    "ett_arrivals_individuals",
    "round_idp_individuals",
    "difference",
    "previous_round_idp_individuals",
    "change_since_previous_round",
)


def ett_comparison_rows(comparison: EttComparison) -> list[list]:
    """CSV rows (without header) of the comparison; unknown figures are empty cells."""

    def cell(value):
        return "" if value is None else value

    return [
        [
            r.pcode,
            r.name,
            r.ett_individuals,
            cell(r.round_individuals),
            cell(r.difference),
            cell(r.previous_individuals),
            cell(r.change),
        ]
        for r in comparison.rows
    ]

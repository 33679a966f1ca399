"""Two operations with data in every app, the users of every role, and planted markers.

Operation A ("Cabo Delgado") and operation B ("Nampula") are both in Mozambique, so a query that
forgets the operation filter would mix them. Each holds published and unpublished figures, flow
points and counts, points of entry, forms and submissions, a registry with personal data, and
import jobs. Markers are values unusual enough that finding one in a response can only mean it
came from the record that carries it; ``MARKERS`` says who may see each kind.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import SimpleNamespace

from django.contrib.auth import get_user_model
from django.test import TestCase

from mobility.core.models import (
    ImportJob,
    ImportRowError,
    Membership,
    Operation,
    PopulationGroup,
    Role,
)

PASSWORD = "a-long-test-password"
ROLES = ("anonymous", "viewer", "enumerator", "data_manager", "admin", "outsider", "superuser", "granted")
MEMBERS_OF_A = frozenset({"viewer", "enumerator", "data_manager", "admin", "granted", "superuser"})


@dataclass(frozen=True)
class Marker:
    """A planted value; ``seen_by`` are the roles allowed to read it anywhere."""

    kind: str
    values: tuple[str, ...]
    seen_by: frozenset[str]
    numbers: tuple[int, ...] = field(default=())

    def found_in(self, text: str) -> str | None:
        for value in self.values:
            if value in text:
                return value
        for n in self.numbers:
            for shown in number_forms(n):
                if shown in text:
                    return shown
        return None


def number_forms(n: int) -> list[str]:
    """How a page, a JSON body or a CSV may write the number (any locale's grouping)."""
    grouped = f"{n:,}"
    return [str(n), *(grouped.replace(",", sep) for sep in (",", ".", " ", "\u00a0", "\u202f"))]


# Unpublished figures of A: members of A (and superusers) only.
A_ROUND2_IDPS = 738291
A_FLOW_UNPUBLISHED = 629417
A_POE_UNPUBLISHED = 518273
A_WITHDRAWN_IDPS = 417263
A_DRAFT_ROUND = "Zqa draft round"
# Unpublished figures of B: members of B (the outsider) and superusers only.
B_ROUND2_IDPS = 691827
B_FLOW_UNPUBLISHED = 582716
B_POE_UNPUBLISHED = 473615
B_DRAFT_ROUND = "Zqb draft round"
# A cell value quoted by a row error of A's import job: those who may import into A only.
A_ROW_ERROR = "Zqrowerr cell value"
# A personal field of a submission to A's form: those who may import into A only.
A_SUBMISSION_PERSONAL = "Zqsubmitter Personname"
# Registration personal data of A: holders of a registration grant in A only (not even superusers).
REG_GIVEN, REG_FAMILY, REG_PHONE_DIGITS, REG_DOCUMENT = "Qwyzzeline", "Xandrovska", "847770123", "QX99887766M"

MARKERS = (
    Marker(
        "a_unpublished",
        (A_DRAFT_ROUND,),
        MEMBERS_OF_A,
        (A_ROUND2_IDPS, A_FLOW_UNPUBLISHED, A_POE_UNPUBLISHED, A_WITHDRAWN_IDPS),
    ),
    Marker(
        "b_unpublished",
        (B_DRAFT_ROUND,),
        frozenset({"outsider", "superuser"}),
        (B_ROUND2_IDPS, B_FLOW_UNPUBLISHED, B_POE_UNPUBLISHED),
    ),
    Marker("a_row_error", (A_ROW_ERROR,), frozenset({"data_manager", "admin", "superuser"})),
    Marker(
        "a_submission_personal", (A_SUBMISSION_PERSONAL,), frozenset({"data_manager", "admin", "superuser"})
    ),
    Marker(
        "registration_personal",
        (REG_GIVEN, REG_FAMILY, REG_PHONE_DIGITS, REG_DOCUMENT),
        frozenset({"granted"}),
    ),
)
MARKER_KINDS = {m.kind: m for m in MARKERS}


def _user(username: str, **extra):
    return get_user_model().objects.create_user(username=username, password=PASSWORD, **extra)


def _member(username: str, operation: Operation, role: str):
    user = _user(username)
    Membership.objects.create(user=user, operation=operation, role=role)
    return user


def _round(operation, number, *, parts, name=""):
    from mobility.core.services import round_create
    from mobility.tracking.ops import round_to_validating
    from tests.publishing.conftest import write_round

    round_ = round_create(
        operation=operation,
        number=number,
        start_date=dt.date(2026, number, 1),
        end_date=dt.date(2026, number, 28),
        name=name,
    )
    write_round(round_, parts=parts)
    return round_to_validating(round=round_)


def _parts(big: int):
    return [
        (["MZ01", "MZ0101"], "conflict", "MZ01", big, big // 2, big - big // 2, "trust-1"),
        (["MZ01", "MZ0102"], "conflict", "MZ01", 90, 40, 50, "trust-2"),
        (["MZ01", "MZ0103"], "conflict", "MZ01", 60, 30, 30, "trust-3"),
    ]


def _tracking(op, *, draft_idps, draft_name, withdrawn_idps=None):
    from mobility.publishing.models import Release
    from mobility.publishing.services import release_publish

    published = _round(op, 1, parts=_parts(400))
    release = release_publish(round=published, source_note="trust tests", confirm=True)
    withdrawn = None
    if withdrawn_idps:
        round3 = _round(op, 3, parts=_parts(withdrawn_idps))
        withdrawn = release_publish(round=round3, source_note="trust tests", confirm=True)
        Release.objects.filter(pk=withdrawn.pk).update(status=Release.Status.WITHDRAWN)
    draft = _round(op, 2, parts=_parts(draft_idps), name=draft_name)
    return SimpleNamespace(published=published, release=release, draft=draft, withdrawn=withdrawn)


def _events(op, suffix):
    from mobility.gazetteer.models import Location
    from mobility.tracking.models import Alert, AlertRule, Event, GroupMovement

    site = Location.objects.create(
        code=f"SITE-{suffix}",
        type=Location.Type.SITE,
        name=f"Site {suffix}",
        country_iso3="MOZ",
        operation=op,
        admin1_code="MZ01",
        admin2_code="MZ0101",
    )
    event = Event.objects.create(
        operation=op, code=f"ETT-{suffix}", event_type="conflict", date=dt.date(2026, 2, 3),
        country_iso3="MOZ", admin1_code="MZ01", admin2_code="MZ0101", description="attack",
    )  # fmt: skip
    GroupMovement.objects.create(
        event=event, code="G1", population_group=PopulationGroup.IDP, individuals=120,
        from_admin1_code="MZ01", from_admin2_code="MZ0101", to_admin1_code="MZ01", to_admin2_code="MZ0102",
    )  # fmt: skip
    rule = AlertRule.objects.create(operation=op, min_individuals=100)
    alert = Alert.objects.create(event=event, rule=rule, reason="120 people moved")
    return SimpleNamespace(site=site, event=event, rule=rule, alert=alert)


def _flows(op, suffix, *, unpublished_individuals, publish: bool, by):
    from mobility.flows.estimates import estimates_compute
    from mobility.flows.models import Corridor, FlowCount, FlowMonitoringPoint
    from mobility.flows.publishing import flows_publish
    from mobility.flows.services import summaries_rebuild

    corridor = Corridor.objects.create(
        operation=op, slug=f"corridor-{suffix.lower()}", name=f"Corridor {suffix}"
    )
    point = FlowMonitoringPoint.objects.create(
        operation=op, code=f"FMP-{suffix}", name=f"Point {suffix}", country_iso3="MOZ", corridor=corridor,
        border_country_iso3="TZA", latitude=-11.5, longitude=40.0, movement_types=["cross_border"],
        observed_days=[0, 1, 2, 3, 4, 5, 6], observed_hours=list(range(8, 16)),
    )  # fmt: skip
    week1 = [dt.date(2026, 3, 2) + dt.timedelta(days=i) for i in range(7)]
    week2 = [dt.date(2026, 3, 9) + dt.timedelta(days=i) for i in range(7)]
    n = 0
    for day in week1 + week2:
        n += 1
        individuals = unpublished_individuals if day == week2[3] else 12
        FlowCount.objects.create(
            operation=op, fmp=point, record_id=f"{suffix}-{n}", date=day, hour_start=10, direction="in",
            individuals=individuals, nationality="TZA", males_18_59=5, females_18_59=6,
        )  # fmt: skip
    summaries_rebuild(operation_id=op.pk)
    estimates_compute(operation=op, period="week")
    if publish:
        flows_publish(operation=op, date_from=week1[0], date_to=week1[-1], by=by)
    return SimpleNamespace(point=point, corridor=corridor)


def _restrictions(op, suffix, *, unpublished_inflow):
    from mobility.restrictions.models import TravelRestriction
    from mobility.restrictions.services import poe_upsert, status_record

    public, _ = poe_upsert(
        operation=op, code=f"POE-{suffix}", name=f"Border {suffix}", type="land_border", country_iso3="MOZ",
        border_country_iso3="TZA", admin1_code="MZ01", admin2_code="MZ0101", latitude=-10.5, longitude=40.2,
    )  # fmt: skip
    status_record(
        poe=public, effective_from=dt.date(2026, 1, 5), status="open", daily_inflow=40, publish=True
    )
    status_record(
        poe=public, effective_from=dt.date(2026, 2, 5), status="closed", daily_inflow=unpublished_inflow
    )
    hidden, _ = poe_upsert(
        operation=op, code=f"POE-{suffix}-DRAFT", name=f"Airport {suffix}", type="airport", country_iso3="MOZ",
        iata_code="POL" if suffix == "A" else "APL",
    )  # fmt: skip
    status_record(
        poe=hidden, effective_from=dt.date(2026, 2, 5), status="open", daily_inflow=unpublished_inflow
    )
    TravelRestriction.objects.create(
        operation=op, imposing_iso3="MOZ", target_iso3="ZAF", kind="visa", effective_from=dt.date(2026, 1, 1),
        source="manual", source_ref=f"TR-{suffix}", published=True,
    )  # fmt: skip
    return SimpleNamespace(public=public, hidden=hidden)


def _xlsform(form_id: str) -> bytes:
    from tests.collection.forms import xlsform

    return xlsform(
        [
            ["type", "name", "label::English (en)", "personal_data"],
            ["text", "respondent_name", "Respondent name", "yes"],
            ["integer", "people", "People in household", ""],
            ["geopoint", "gps", "Location", ""],
        ],
        None,
        {"form_id": form_id, "form_title": f"Visit {form_id}", "version": "2026112501"},
    )


def instance(form_id: str, instance_id: str, *, name: str = "Someone", people: int = 3) -> bytes:
    return (
        f'<?xml version="1.0"?><data id="{form_id}" version="2026112501">'
        f"<respondent_name>{name}</respondent_name><people>{people}</people>"
        f"<gps>-12.97 40.52 0 5</gps><meta><instanceID>{instance_id}</instanceID></meta></data>"
    ).encode()


def _collection(op, suffix, *, by, personal: str):
    from mobility.collection.models import SubmissionConflict
    from mobility.collection.services import Upload, form_publish, media_attach, submission_receive

    form_id = f"visit_{suffix.lower()}"
    version = form_publish(operation=op, data=_xlsform(form_id), filename=f"{form_id}.xlsx", by=by)
    media = media_attach(
        version=version, name="logo.png", data=b"\x89PNG\r\n\x1a\nlogo", content_type="image/png"
    )
    received = submission_receive(
        operation=op,
        raw=instance(form_id, f"uuid:{suffix}-0001", name=personal),
        attachments=[Upload("house.jpg", b"\xff\xd8\xff\xe0house", "image/jpeg")],
        by=by,
    )
    submission = received.submission
    conflict = SubmissionConflict.objects.create(
        submission=submission, raw=instance(form_id, f"uuid:{suffix}-0001", people=4), raw_sha256="0" * 64
    )
    return SimpleNamespace(
        form=version.form,
        form_id=form_id,
        version=version,
        media=media,
        submission=submission,
        attachment=submission.attachments.get(),
        conflict=conflict,
    )


def _jobs(op, suffix, *, by, row_error: str):
    job = ImportJob.objects.create(
        kind="tracking.template", original_name=f"baseline-{suffix}.csv", sha256="0" * 64, operation=op,
        created_by=by, status=ImportJob.Status.FAILED, error="1 row error",
    )  # fmt: skip
    ImportRowError.objects.create(
        job=job, row=14, column="idp_individuals", value=row_error, message="is negative"
    )
    return job


def _registration(op, suffix, *, by, reviewer, marked: bool):
    from mobility.registration import assistance, assistance_figures, review, verification
    from mobility.registration.models import Individual
    from tests.registration.assist_helpers import family
    from tests.registration.pages_world import marked_household, pair_make

    if marked:
        household = marked_household(op, f"HH-{suffix}-1", location_pcode="MZ0101")
    else:
        household = family(op, f"HH-{suffix}-1", location_pcode="MZ0101")
    second = family(op, f"HH-{suffix}-2", location_pcode="MZ0101")
    third = family(op, f"HH-{suffix}-3", location_pcode="MZ0101")
    heads = {
        hh.pk: Individual.objects.get(household=hh, relationship="head") for hh in (household, second, third)
    }
    pair = pair_make(heads[household.pk], heads[second.pk])
    merge_pair = pair_make(heads[second.pk], heads[third.pk], probability=0.95)
    merge = review.merge(survivor=heads[second.pk], merged=heads[third.pk], by=reviewer, pair=merge_pair)
    vround = verification.round_open(
        operation=op,
        name=f"Verification {suffix}",
        started_on=dt.date(2026, 5, 1),
        by=reviewer,
        area_pcode="MZ0101",
    )
    item = assistance.item_create(operation=op, code="NFI", name="NFI kit", by=by)
    assistance.entitlement_set(operation=op, item=item, period_days=20, by=by)
    assistance.distribution_record(
        operation=op, household=household, item=item, quantity=1, distributed_on=dt.date(2026, 5, 12),
        reference=f"DIST-{suffix}-1", by=reviewer,
    )  # fmt: skip
    assistance_figures.assistance_publish(operation=op, period="2026-05", by=by)
    return SimpleNamespace(household=household, pair=pair, merge=merge, vround=vround)


def build_world() -> SimpleNamespace:
    """Everything the access matrix and the schema tests read and write."""
    from mobility.collection.central_sessions import central_session_create
    from mobility.core.services import api_token_create, operation_create
    from mobility.gazetteer.models import MatchReview
    from mobility.registration import access
    from mobility.registration.models import Capability
    from mobility.tracking.models import SourceProfile
    from tests.gazetteer.gazetteer_fixtures import load_gazetteer

    w = SimpleNamespace()
    w.gazetteer = load_gazetteer("MOZ")
    a = operation_create(name="Mozambique — Cabo Delgado", country_iso3="MOZ")
    b = operation_create(name="Mozambique — Nampula", country_iso3="MOZ")
    w.a, w.b = a, b
    users = {
        "viewer": _member("viewer", a, Role.VIEWER),
        "enumerator": _member("enumerator", a, Role.ENUMERATOR),
        "data_manager": _member("data_manager", a, Role.DATA_MANAGER),
        "admin": _member("admin", a, Role.ADMIN),
        "outsider": _member("outsider", b, Role.ADMIN),
        "superuser": _user("superuser", is_superuser=True, is_staff=True),
        "granted": _member("granted", a, Role.VIEWER),
    }
    w.users = users
    everything = [c.value for c in Capability]
    access.grant_set(operation=a, user=users["granted"], capabilities=everything, by=users["admin"])
    access.grant_set(operation=b, user=users["outsider"], capabilities=everything, by=users["outsider"])
    for user in users.values():
        for cache in ("_mobility_roles", "_registration_caps"):
            if hasattr(user, cache):
                delattr(user, cache)
    w.tokens = {role: api_token_create(user=u, name=f"{role} token")[1] for role, u in users.items()}

    with TestCase.captureOnCommitCallbacks(execute=True):
        w.track_a = _tracking(
            a, draft_idps=A_ROUND2_IDPS, draft_name=A_DRAFT_ROUND, withdrawn_idps=A_WITHDRAWN_IDPS
        )
        w.track_b = _tracking(b, draft_idps=B_ROUND2_IDPS, draft_name=B_DRAFT_ROUND)
        w.events_a, w.events_b = _events(a, "A"), _events(b, "B")
        w.flows_a = _flows(
            a, "A", unpublished_individuals=A_FLOW_UNPUBLISHED, publish=True, by=users["admin"]
        )
        w.flows_b = _flows(
            b, "B", unpublished_individuals=B_FLOW_UNPUBLISHED, publish=False, by=users["outsider"]
        )
        w.poe_a = _restrictions(a, "A", unpublished_inflow=A_POE_UNPUBLISHED)
        w.poe_b = _restrictions(b, "B", unpublished_inflow=B_POE_UNPUBLISHED)
        w.col_a = _collection(a, "A", by=users["data_manager"], personal=A_SUBMISSION_PERSONAL)
        w.col_b = _collection(b, "B", by=users["outsider"], personal="Someone Else")
        w.job_a = _jobs(a, "A", by=users["data_manager"], row_error=A_ROW_ERROR)
        w.job_b = _jobs(b, "B", by=users["outsider"], row_error="b cell")
        w.reg_a = _registration(a, "A", by=users["admin"], reviewer=users["granted"], marked=True)
        w.reg_b = _registration(b, "B", by=users["outsider"], reviewer=users["outsider"], marked=False)
    w.review_a = MatchReview.objects.create(
        country_iso3="MOZ", level=2, provider_name="Ancuabe sede", normalized="ancuabe sede",
        parent_pcode="MZ01", match_status="unmatched", import_job=w.job_a, operation=a,
    )  # fmt: skip
    w.profile_a = SourceProfile.objects.create(
        name="trust-profile-a", label="Profile of A", operation=a, country_iso3="MOZ", mapping={"columns": {}}
    )
    w.central_dm_token = central_session_create(user=users["data_manager"])[1]
    return w

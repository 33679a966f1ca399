"""Members read events, alerts and sites; data managers acknowledge alerts; admins manage rules; the public sees none of it."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from django.urls import reverse

from mobility.core import imports
from mobility.core.models import Membership, PopulationGroup, Role
from mobility.core.services import round_create
from mobility.tracking.events import alert_rule_create, ett_since_last_round
from mobility.tracking.importers.events import EVENTS_KIND
from mobility.tracking.importers.sites import SITES_KIND
from mobility.tracking.models import Alert, AlertRule
from mobility.tracking.records import AssessmentRecord, RecordBuilder
from mobility.tracking.services import assessments_write
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture  # noqa: F401

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent / "data"


@pytest.fixture
def events(operation, moz_gazetteer, django_capture_on_commit_callbacks):
    alert_rule_create(operation=operation, min_individuals=1000)
    with django_capture_on_commit_callbacks(execute=True):
        job = imports.run(
            imports.job_create(
                kind=EVENTS_KIND, source=DATA / "ett_moz_cabo_delgado.csv", operation=operation
            )
        )
    assert job.status == "succeeded", job.error
    return job


@pytest.fixture
def op_admin(django_user_model, operation):
    user = django_user_model.objects.create_user(username="opadmin", password="a-long-test-password")
    Membership.objects.create(user=user, operation=operation, role=Role.ADMIN)
    return user


def url(name, operation, *args):
    return reverse(f"tracking:{name}", args=[operation.slug, *args])


@pytest.mark.parametrize("name", ["events", "alerts", "alert_rules", "ett_since_last_round", "sites"])
def test_the_public_is_sent_to_log_in_and_outsiders_are_refused(client, operation, outsider, name):
    response = client.get(url(name, operation))
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    client.force_login(outsider)
    assert client.get(url(name, operation)).status_code == 403


def test_events_list_filters_by_type_dates_and_area(
    client, viewer, operation, events, django_assert_max_num_queries
):
    client.force_login(viewer)
    with django_assert_max_num_queries(12):
        response = client.get(url("events", operation))
    page = response.content.decode()
    assert response.status_code == 200
    assert "MOZ-ETT-2026-031" in page and "MOZ-ETT-2026-034" in page and "2,365" in page
    assert "1 open alert" in page  # the dashboard fragment
    page = client.get(url("events", operation), {"event_type": "flood"}).content.decode()
    assert ">MOZ-ETT-2026-033</a>" in page and ">MOZ-ETT-2026-031</a>" not in page
    page = client.get(
        url("events", operation), {"date_from": "2026-02-10", "date_to": "2026-02-28"}
    ).content.decode()
    assert (
        ">MOZ-ETT-2026-033</a>" in page
        and ">MOZ-ETT-2026-031</a>" not in page
        and "MOZ-ETT-2026-034" not in page
    )
    page = client.get(url("events", operation), {"area": "MZ0110"}).content.decode()
    assert ">MOZ-ETT-2026-031</a>" in page and ">MOZ-ETT-2026-033</a>" not in page


def test_event_detail_shows_movements_and_map_data(client, viewer, operation, events):
    client.force_login(viewer)
    response = client.get(url("event_detail", operation, "MOZ-ETT-2026-031"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Cidade De Pemba" in page and "Metuge" in page and "1,034" in page
    assert (
        'id="event-map-data"' in page
        and "/api/v1/gazetteer/boundaries?location_code=MOZ&amp;parent_code=MZ01" in page
    )
    assert "tracking/event-map.js" in page and "<script>" not in page.replace(
        '<script type="application/json"', ""
    )
    assert client.get(url("event_detail", operation, "NOPE")).status_code == 404


def test_acknowledging_needs_import_or_publish_rights_and_a_post(
    client, viewer, data_manager, operation, events
):
    alert = Alert.objects.get()
    target = url("alert_acknowledge", operation, alert.pk)
    client.force_login(viewer)
    assert "Acknowledge</button>" not in client.get(url("alerts", operation)).content.decode()
    assert client.post(target).status_code == 403
    client.force_login(data_manager)
    assert client.get(target).status_code == 405
    response = client.post(target)
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by == data_manager
    page = client.get(url("alerts", operation)).content.decode()
    assert "No open alert." in page
    assert "Acknowledged" in client.get(url("alerts", operation), {"all": "1"}).content.decode()


def test_acknowledge_is_csrf_protected(operation, data_manager, events):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(data_manager)
    assert client.post(url("alert_acknowledge", operation, Alert.objects.get().pk)).status_code == 403


def test_only_admins_of_the_operation_manage_rules(client, data_manager, op_admin, operation, moz_gazetteer):
    client.force_login(data_manager)
    page = client.get(url("alert_rules", operation)).content.decode()
    assert "Create rule" not in page
    assert client.post(url("alert_rules", operation), {"min_individuals": 500}).status_code == 403
    client.force_login(op_admin)
    response = client.post(
        url("alert_rules", operation),
        {"min_individuals": 500, "watched_pcode": "MZ0110", "subscribers": [data_manager.pk]},
    )
    assert response.status_code == 302
    rule = AlertRule.objects.get()
    assert (rule.min_individuals, rule.watched_pcode, list(rule.subscribers.all())) == (
        500,
        "MZ0110",
        [data_manager],
    )
    page = client.get(url("alert_rules", operation)).content.decode()
    assert "Mocimboa Da Praia" in page
    page = client.post(url("alert_rules", operation), {"watched_pcode": "MZ9999"}).content.decode()
    assert "MZ9999 is not a p-code" in page
    client.force_login(data_manager)
    assert client.post(url("alert_rule_delete", operation, rule.pk)).status_code == 403
    client.force_login(op_admin)
    assert client.post(url("alert_rule_delete", operation, rule.pk)).status_code == 302
    assert not AlertRule.objects.exists()


@pytest.fixture
def two_rounds(operation):
    first = round_create(
        operation=operation, number=1, start_date=dt.date(2026, 1, 5), end_date=dt.date(2026, 1, 31)
    )
    second = round_create(
        operation=operation, number=2, start_date=dt.date(2026, 3, 1), end_date=dt.date(2026, 3, 31)
    )
    builder = RecordBuilder()
    figures = {
        first: {"MZ0109": 40000, "MZ0104": 20000},
        second: {"MZ0109": 41700, "MZ0104": 20500, "MZ0103": 900},
    }
    for round_, by_area in figures.items():
        for pcode, n in by_area.items():
            record = builder.record(
                AssessmentRecord(
                    operation_id=operation.pk,
                    round_id=round_.pk,
                    assessment_type="BA",
                    place_key=pcode,
                    country_iso3="MOZ",
                    admin_level=2,
                    admin1_code="MZ01",
                    admin2_code=pcode,
                    reporting_date=round_.end_date,
                )
            )
            builder.add_figure(record, population_group=PopulationGroup.IDP, individuals=n)
    assessments_write(records=builder.results())
    return first, second


def test_ett_since_last_round_sets_arrivals_beside_the_round(operation, events, two_rounds):
    first, second = two_rounds
    comparison = ett_since_last_round(round=second)
    assert comparison.previous == first and comparison.window_start == dt.date(2026, 1, 31)
    rows = {r.pcode: r for r in comparison.rows}
    # Metuge: 1,034 + 466 arrivals (event of 3 Feb); Chiure: 612 (4 Feb) + 119 (cyclone on 11 Mar).
    assert (rows["MZ0109"].ett_individuals, rows["MZ0109"].round_individuals, rows["MZ0109"].difference) == (
        1500,
        41700,
        40200,
    )
    assert rows["MZ0109"].change == 1700
    assert (rows["MZ0103"].ett_individuals, rows["MZ0103"].round_individuals, rows["MZ0103"].change) == (
        731,
        900,
        None,
    )
    assert rows["MZ0111"].round_individuals is None and rows["MZ0111"].difference is None
    # The first round has no previous round: the window starts with the round itself (no event in it).
    assert all(r.ett_individuals == 0 for r in ett_since_last_round(round=first).rows)


def test_ett_since_last_round_page_and_csv(client, viewer, operation, events, two_rounds):
    _, second = two_rounds
    client.force_login(viewer)
    page = client.get(url("ett_since_last_round", operation), {"round": second.pk}).content.decode()
    assert "Metuge" in page and "1,500" in page and "41,700" in page and "+40,200" in page
    response = client.get(url("ett_since_last_round", operation), {"round": second.pk, "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    metuge = next(r for r in rows if r["admin2_code"] == "MZ0109")
    assert metuge == {
        "admin2_code": "MZ0109",
        "admin2_name": "Metuge",
        "ett_arrivals_individuals": "1500",
        "round_idp_individuals": "41700",
        "difference": "40200",
        "previous_round_idp_individuals": "40000",
        "change_since_previous_round": "1700",
    }


def test_site_pages_show_profile_demographics_and_indicators(client, viewer, operation, moz_gazetteer):
    round_create(operation=operation, number=1, start_date=dt.date(2026, 1, 5), end_date=dt.date(2026, 1, 31))
    round_create(operation=operation, number=2, start_date=dt.date(2026, 3, 1), end_date=dt.date(2026, 3, 31))
    job = imports.run(
        imports.job_create(kind=SITES_KIND, source=DATA / "sa_moz_sites.csv", operation=operation)
    )
    assert job.status == "succeeded"
    client.force_login(viewer)
    page = client.get(url("sites", operation)).content.decode()
    assert "25 de Junho (Metuge)" in page and "Meculane" in page and "6,214" in page
    page = client.get(url("site_detail", operation, "MZ-CD-S001")).content.decode()
    assert "Resettlement site" in page and "INGD" in page and "Accessible" in page
    assert "5,860" in page and "6,214" in page  # both rounds
    assert "Water, sanitation and hygiene" in page and "Water source" in page and "borehole" in page
    assert "Protection" in page and "Safe spaces" in page
    assert client.get(url("site_detail", operation, "NOPE")).status_code == 404


def test_pages_render_in_arabic(client, viewer, operation, events):
    client.force_login(viewer)
    client.cookies["django_language"] = "ar"
    page = client.get(url("events", operation), HTTP_ACCEPT_LANGUAGE="ar").content.decode()
    assert 'dir="rtl"' in page


@pytest.mark.parametrize(
    "model",
    [
        "assessment",
        "populationfigure",
        "figurebreakdown",
        "indicatorvalue",
        "sourceprofile",
        "event",
        "groupmovement",
        "alertrule",
        "alert",
        "areafigure",
    ],
)
def test_every_tracking_model_has_an_admin_page(admin_client, model, events):
    assert admin_client.get(f"/admin/tracking/{model}/").status_code == 200

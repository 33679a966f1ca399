"""Partners read flow points, daily counts, breakdowns and estimates through /api/v1/flows/.

Anonymous callers see published periods only, small cells hidden; members see all of their
operation, unsuppressed — by token or by session.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from mobility.core.services import api_token_create
from mobility.flows.api import BREAKDOWN_FIELDS, DAILY_FIELDS, ESTIMATE_FIELDS, POINT_FIELDS
from mobility.flows.estimates import estimates_compute
from mobility.flows.models import FlowCount, FlowMonitoringPoint
from mobility.flows.publishing import flows_publish
from mobility.flows.services import summaries_rebuild

pytestmark = pytest.mark.django_db

WEEK1 = [dt.date(2024, 3, 4) + dt.timedelta(days=i) for i in range(7)]
WEEK2 = [dt.date(2024, 3, 11) + dt.timedelta(days=i) for i in range(7)]
URL = "/api/v1/flows"


@pytest.fixture
def flows(operation, other_operation, settings):
    settings.MOBILITY = {**settings.MOBILITY, "DISCLOSURE_THRESHOLD": 5}
    ressano = FlowMonitoringPoint.objects.create(
        operation=operation,
        code="MOZ-F1",
        name="Ressano Garcia",
        country_iso3="MOZ",
        border_country_iso3="ZAF",
        latitude=-25.44,
        longitude=32.0,
        movement_types=["cross_border"],
        observed_days=[0, 1, 2, 3, 4, 5, 6],
        observed_hours=list(range(8, 16)),
    )
    FlowMonitoringPoint.objects.create(
        operation=operation, code="MOZ-F2", name="Negomano", country_iso3="MOZ"
    )
    torkham = FlowMonitoringPoint.objects.create(
        operation=other_operation, code="PAK-F1", name="Torkham", country_iso3="PAK"
    )
    n = 0

    def count(fmp, date, direction, individuals, nationality="ZAF", hour=10, **extra):
        nonlocal n
        n += 1
        FlowCount.objects.create(
            operation=fmp.operation,
            fmp=fmp,
            record_id=str(n),
            date=date,
            hour_start=hour,
            direction=direction,
            individuals=individuals,
            nationality=nationality,
            **extra,
        )

    for day in WEEK1 + WEEK2:
        count(ressano, day, "in", 12, males_18_59=5, females_18_59=6)
        count(ressano, day, "out", 9, hour=14)
    count(ressano, WEEK1[0], "in", 2, nationality="MWI", pregnant_women=1)  # a cell of 2 people
    count(torkham, WEEK1[0], "in", 40, nationality="AFG")
    summaries_rebuild(operation_id=operation.pk)
    summaries_rebuild(operation_id=other_operation.pk)
    estimates_compute(operation=operation, period="week")
    estimates_compute(operation=other_operation, period="week")
    return ressano


def _get(client, path, **params):
    response = client.get(f"{URL}/{path}", params)
    assert response.status_code == 200, response.content
    return response.json()["data"]


@pytest.fixture
def bearer(viewer):
    _token, key = api_token_create(user=viewer, name="partner")
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


ENDPOINTS = ["points", "daily", "breakdowns", "estimates"]


def test_anonymous_callers_see_nothing_before_anything_is_published(client, flows):
    for endpoint in ENDPOINTS:
        assert _get(client, endpoint) == [], endpoint


def test_anonymous_callers_see_exactly_the_published_period(client, flows, data_manager):
    flows_publish(operation=flows.operation, date_from=WEEK1[0], date_to=WEEK1[-1], by=data_manager)

    daily = _get(client, "daily")
    assert {row["date"] for row in daily} == {d.isoformat() for d in WEEK1}
    assert {row["operation"] for row in daily} == {flows.operation.slug}
    first = next(r for r in daily if r["date"] == "2024-03-04" and r["direction"] == "in")
    assert first["fmp_code"] == "MOZ-F1" and first["records"] == 2 and first["individuals"] == 14
    assert (first["males"], first["females"]) == (5, 6)
    assert first["pregnant_women"] is None and first["suppressed"] is True  # 1 pregnant woman: hidden

    # Per FMP the breakdowns are monthly, and March is not published from first to last day.
    assert _get(client, "breakdowns", dimension="nationality") == []
    breakdowns = _get(client, "breakdowns", dimension="nationality", level="operation")
    assert {row["date"] for row in breakdowns} == {d.isoformat() for d in WEEK1}
    assert {row["period"] for row in breakdowns} == {"day"}
    small = next(r for r in breakdowns if r["value"] == "MWI")
    assert (small["individuals"], small["records"], small["suppressed"]) == (None, None, True)
    big = next(
        r for r in breakdowns if r["value"] == "ZAF" and r["date"] == "2024-03-04" and r["direction"] == "in"
    )
    assert (big["individuals"], big["suppressed"]) == (12, False)

    estimates = _get(client, "estimates")
    assert {(r["period_start"], r["direction"]) for r in estimates} == {
        ("2024-03-04", "in"),
        ("2024-03-04", "out"),
    }
    points = _get(client, "points")
    assert [p["fmp_code"] for p in points] == ["MOZ-F1", "MOZ-F2"]  # Torkham's operation published nothing
    assert (
        points[0]["border_location_code"] == "ZAF" and points[0]["observed_hours"] == "8,9,10,11,12,13,14,15"
    )


def test_per_point_breakdowns_are_public_by_whole_month(client, flows, data_manager):
    march = (dt.date(2024, 3, 1), dt.date(2024, 3, 31))
    flows_publish(
        operation=flows.operation, date_from=march[0], date_to=dt.date(2024, 3, 15), by=data_manager
    )
    assert _get(client, "breakdowns", dimension="nationality") == []  # half a month: no monthly row
    flows_publish(
        operation=flows.operation, date_from=dt.date(2024, 3, 16), date_to=march[1], by=data_manager
    )
    monthly = _get(client, "breakdowns", dimension="nationality", direction="in")
    assert [(r["fmp_code"], r["period"], r["date"], r["value"], r["individuals"]) for r in monthly] == [
        ("MOZ-F1", "month", "2024-03-01", "MWI", None),  # 2 people: suppressed
        ("MOZ-F1", "month", "2024-03-01", "ZAF", 12 * 14),
    ]
    # start/end dates select the months they touch.
    assert _get(client, "breakdowns", dimension="nationality", start_date="2024-03-20") != []
    assert _get(client, "breakdowns", dimension="nationality", start_date="2024-04-01") == []


def test_an_estimate_is_public_only_when_its_whole_period_is(client, flows, data_manager):
    flows_publish(operation=flows.operation, date_from=WEEK1[0], date_to=WEEK1[3], by=data_manager)
    assert _get(client, "daily")  # four days are public …
    assert _get(client, "estimates") == []  # … but not the week's estimate


@pytest.mark.parametrize("how", ["token", "session"])
def test_members_see_everything_of_their_operation_unsuppressed(client, flows, viewer, bearer, how):
    if how == "session":
        client.force_login(viewer)
        headers = {}
    else:
        headers = bearer
    daily = client.get(f"{URL}/daily", **headers).json()["data"]
    assert {row["date"] for row in daily} == {d.isoformat() for d in WEEK1 + WEEK2}
    assert {row["operation"] for row in daily} == {
        flows.operation.slug
    }  # not Torkham (unpublished, not theirs)
    breakdowns = client.get(f"{URL}/breakdowns", {"dimension": "nationality"}, **headers).json()["data"]
    small = next(r for r in breakdowns if r["value"] == "MWI")
    assert (small["individuals"], small["records"], small["suppressed"]) == (2, 1, False)
    estimates = client.get(f"{URL}/estimates", **headers).json()["data"]
    assert {r["period_start"] for r in estimates} == {"2024-03-04", "2024-03-11"}
    for row in estimates:
        assert 0 <= row["lower"] <= row["estimate"] <= row["upper"] and row["estimate"] >= row["observed"]
        assert row["coverage"] == pytest.approx(row["hours_observed"] / row["hours_total"], abs=1e-4)
        assert row["model_based"] is True and "nearest" in row["method"]  # nights never observed
    assert len(client.get(f"{URL}/points", **headers).json()["data"]) == 2


def test_a_member_of_another_operation_reads_it_as_the_public(client, flows, outsider, data_manager):
    flows_publish(operation=flows.operation, date_from=WEEK1[0], date_to=WEEK1[-1], by=data_manager)
    client.force_login(outsider)
    daily = _get(client, "daily", operation=flows.operation.slug)
    assert {row["date"] for row in daily} == {d.isoformat() for d in WEEK1}
    assert (
        next(
            r
            for r in _get(client, "breakdowns", dimension="nationality", level="operation")
            if r["value"] == "MWI"
        )["individuals"]
        is None
    )
    torkham = _get(client, "daily", location_code="pak")  # their own, unpublished
    assert [(r["fmp_code"], r["individuals"]) for r in torkham] == [("PAK-F1", 40)]


def test_filters(client, flows, viewer):
    client.force_login(viewer)
    out = _get(client, "daily", direction="out", start_date="2024-03-05", end_date="2024-03-06")
    assert [(r["date"], r["direction"], r["individuals"]) for r in out] == [
        ("2024-03-05", "out", 9),
        ("2024-03-06", "out", 9),
    ]
    assert _get(client, "daily", fmp_code="moz-f2") == []
    assert _get(client, "estimates", start_date="2024-03-12", period="week", direction="in")[0][
        "period_start"
    ] == ("2024-03-11")
    assert {r["dimension"] for r in _get(client, "breakdowns", dimension="transport")} == {"transport"}
    assert client.get(f"{URL}/breakdowns", {"dimension": "shoe_size"}).status_code == 422
    assert client.get(f"{URL}/daily", {"limit": 10_001}).status_code == 422
    page = _get(client, "daily", offset=2, limit=3)
    assert len(page) == 3 and page == _get(client, "daily")[2:5]


@pytest.mark.parametrize(
    "endpoint, fields",
    [
        ("points", POINT_FIELDS),
        ("daily", DAILY_FIELDS),
        ("breakdowns", BREAKDOWN_FIELDS),
        ("estimates", ESTIMATE_FIELDS),
    ],
)
def test_csv_output_has_the_json_columns(client, flows, data_manager, endpoint, fields):
    # The whole month, so that the monthly per-point breakdowns are public too.
    flows_publish(
        operation=flows.operation,
        date_from=dt.date(2024, 3, 1),
        date_to=dt.date(2024, 3, 31),
        by=data_manager,
    )
    response = client.get(f"{URL}/{endpoint}", {"output_format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert list(rows[0].keys()) == fields
    assert len(rows) == len(_get(client, endpoint))
    if endpoint == "breakdowns":
        small = next(r for r in rows if r["value"] == "MWI")
        assert (small["individuals"], small["suppressed"]) == ("", "True")


def test_the_daily_list_costs_a_fixed_number_of_queries(
    client, flows, data_manager, django_assert_max_num_queries
):
    flows_publish(operation=flows.operation, date_from=WEEK1[0], date_to=WEEK2[-1], by=data_manager)
    with django_assert_max_num_queries(6):
        assert len(_get(client, "daily", limit=100)) == 28


def test_operation_level_breakdowns_sum_the_points_and_hide_small_cells(client, flows, data_manager):
    flows_publish(operation=flows.operation, date_from=WEEK1[0], date_to=WEEK1[-1], by=data_manager)
    rows = _get(client, "breakdowns", dimension="nationality", level="operation")
    assert {(r["operation"], r["fmp_code"], r["location_code"]) for r in rows} == {
        (flows.operation.slug, None, None)
    }
    assert {r["date"] for r in rows} == {d.isoformat() for d in WEEK1}
    first = sorted((r["direction"], r["value"], r["individuals"]) for r in rows if r["date"] == "2024-03-04")
    assert first == [("in", "MWI", None), ("in", "ZAF", 12), ("out", "ZAF", 9)]
    response = client.get(f"{URL}/breakdowns", {"level": "operation", "fmp_code": "MOZ-F1"})
    assert response.status_code == 422

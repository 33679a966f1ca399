"""The flow pages: points and their map, one point's flows, corridors, origin–destination.

Members see every day (unpublished ones marked as drafts); anonymous readers and members of other
operations see the published period only, with small breakdown cells suppressed. The numbers on
the pages are the sums of the counts created here, computed again in the tests from the same rows.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter

import pytest
from django.urls import reverse

from mobility.flows.models import (
    Corridor,
    FlowCount,
    FlowEstimate,
    FlowMonitoringPoint,
    FlowPublication,
)
from mobility.flows.selectors import country_label
from mobility.flows.services import summaries_rebuild

pytestmark = pytest.mark.django_db

START = dt.date(2024, 3, 1)
DAYS = 14
PUBLISHED_TO = dt.date(2024, 3, 7)  # the first week is published, the second is not
RARE = "MWI"  # one traveller from Malawi, once: a cell small enough to point to someone


def flow_world(operation) -> dict:
    """Three points (two on one corridor), two weeks of counts, the first week published, estimates."""
    corridor = Corridor.objects.create(
        operation=operation,
        slug="moz-tza",
        name="Mozambique–Tanzania border",
        description="Rovuma river crossings",
    )
    negomano = FlowMonitoringPoint.objects.create(
        operation=operation,
        code="FMP-NGM",
        name="Negomano",
        type="border_crossing",
        corridor=corridor,
        country_iso3="MOZ",
        border_country_iso3="TZA",
        latitude=-11.43,
        longitude=38.47,
        observed_days=list(range(7)),
        observed_hours=list(range(6, 18)),
    )
    namoto = FlowMonitoringPoint.objects.create(
        operation=operation,
        code="FMP-NMT",
        name="Namoto",
        type="border_crossing",
        corridor=corridor,
        country_iso3="MOZ",
        border_country_iso3="TZA",
        latitude=-10.47,
        longitude=40.43,
        observed_days=[0, 1, 2, 3, 4],
        observed_hours=list(range(7, 13)),
    )
    pemba = FlowMonitoringPoint.objects.create(
        operation=operation,
        code="FMP-PMB",
        name="Pemba bus station",
        type="bus_station",
        country_iso3="MOZ",
        latitude=-12.97,
        longitude=40.52,
    )
    rows = []
    for i in range(DAYS):
        day = START + dt.timedelta(days=i)
        # Negomano: people arrive from Tanzania (two groups), fewer leave.
        rows += [
            dict(
                fmp=negomano,
                record_id=f"N{i}a",
                date=day,
                direction="in",
                individuals=10,
                nationality="TZA",
                from_country="TZA",
                to_country="MOZ",
                reason="conflict",
                transport="foot",
            ),
            dict(
                fmp=negomano,
                record_id=f"N{i}b",
                date=day,
                direction="in",
                individuals=5,
                nationality="MOZ",
                from_country="TZA",
                to_country="MOZ",
                reason="return",
                transport="bus",
            ),
            dict(
                fmp=negomano,
                record_id=f"N{i}c",
                date=day,
                direction="out",
                individuals=8,
                nationality="MOZ",
                from_country="MOZ",
                to_country="TZA",
                reason="economic",
                transport="bus",
            ),
        ]
        # Namoto: more leave than arrive.
        rows += [
            dict(
                fmp=namoto,
                record_id=f"M{i}a",
                date=day,
                direction="in",
                individuals=4,
                nationality="MOZ",
                from_country="TZA",
                to_country="MOZ",
                reason="family",
                transport="boat",
            ),
            dict(
                fmp=namoto,
                record_id=f"M{i}b",
                date=day,
                direction="out",
                individuals=12,
                nationality="MOZ",
                from_country="MOZ",
                to_country="TZA",
                reason="economic",
                transport="boat",
            ),
        ]
        rows.append(
            dict(
                fmp=pemba,
                record_id=f"P{i}",
                date=day,
                direction="in",
                individuals=20,
                nationality="MOZ",
                from_country="MOZ",
                to_country="MOZ",
                reason="conflict",
                transport="bus",
            )
        )
    rows.append(
        dict(
            fmp=negomano,
            record_id="N-rare",
            date=START + dt.timedelta(days=1),
            direction="in",
            individuals=1,
            nationality=RARE,
            from_country=RARE,
            to_country="MOZ",
            reason="tourism",
            transport="car",
        )
    )
    FlowCount.objects.bulk_create([FlowCount(operation=operation, **row) for row in rows])
    summaries_rebuild(operation_id=operation.pk)
    FlowPublication.objects.create(operation=operation, date_from=START, date_to=PUBLISHED_TO)
    for start, observed, estimate in [(dt.date(2024, 3, 4), 105, 171.4), (dt.date(2024, 3, 11), 105, 180.2)]:
        FlowEstimate.objects.create(
            operation=operation,
            fmp=negomano,
            period="week",
            period_start=start,
            period_end=start + dt.timedelta(days=6),
            direction="in",
            observed=observed,
            estimate=estimate,
            lower=150.2,
            upper=199.7,
            coverage=0.5,
            hours_observed=84,
            hours_total=168,
            method="ratio-hour-weekday",
        )
    return {"corridor": corridor, "negomano": negomano, "namoto": namoto, "pemba": pemba, "rows": rows}


def people(rows, *, fmp=None, direction=None, until=None, **match) -> int:
    return sum(
        r["individuals"]
        for r in rows
        if (fmp is None or r["fmp"] == fmp)
        and (direction is None or r["direction"] == direction)
        and (until is None or r["date"] <= until)
        and all(r.get(k) == v for k, v in match.items())
    )


@pytest.fixture
def world(operation):
    return flow_world(operation)


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def script_json(response, element_id: str):
    match = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', response.content.decode(), re.S
    )
    assert match, f"no json_script {element_id}"
    return json.loads(match.group(1))


# --- reaching the pages ---------------------------------------------------------------------------


def test_flows_and_restrictions_are_in_the_navigation(client, world):
    page = client.get("/").content.decode()
    assert f'href="{reverse("flows:index")}"' in page
    assert f'href="{reverse("restrictions:index")}"' in page


def test_the_index_opens_the_first_operation_or_the_one_picked(
    client, viewer, world, operation, other_operation
):
    assert client.get("/flows/").url == f"/flows/{operation.slug}/"  # published: open to everyone
    client.force_login(viewer)
    assert client.get(f"/flows/?operation={operation.slug}").url == f"/flows/{operation.slug}/"
    # An operation the viewer may not read is not offered, so the pick falls back to the first one.
    assert client.get(f"/flows/?operation={other_operation.slug}").url == f"/flows/{operation.slug}/"


def test_without_anything_published_anonymous_readers_are_told_so(client, operation):
    response = client.get("/flows/")
    assert response.status_code == 200
    assert "No operation has published flow data yet" in text(response)
    assert client.get(f"/flows/{operation.slug}/").status_code == 404


def test_an_unpublished_operation_is_hidden_from_outsiders_but_open_to_members(
    client, operation, outsider, viewer
):
    FlowMonitoringPoint.objects.create(operation=operation, code="X", name="X", country_iso3="MOZ")
    client.force_login(outsider)
    for url in [
        f"/flows/{operation.slug}/",
        f"/flows/{operation.slug}/points/X/",
        f"/flows/{operation.slug}/od/",
    ]:
        assert client.get(url).status_code == 404, url
    client.force_login(viewer)
    assert client.get(f"/flows/{operation.slug}/points/X/").status_code == 200


# --- the operation's points -----------------------------------------------------------------------


def test_the_point_list_shows_type_corridor_last_count_and_people(client, viewer, world, operation):
    client.force_login(viewer)
    response = client.get(f"/flows/{operation.slug}/")
    assert response.status_code == 200
    page = text(response)
    row = re.search(r'<tr data-code="FMP-NGM">(.*?)</tr>', page).group(1)
    assert "Negomano" in row and "Border crossing" in row and "Mozambique–Tanzania border" in row
    assert "2024-03-14" in row
    assert f"{people(world['rows'], fmp=world['negomano']):,}" in row
    points = script_json(response, "fmp-map-data")
    assert {p["code"] for p in points} == {"FMP-NGM", "FMP-NMT", "FMP-PMB"}
    assert reverse("flows:corridor", args=[operation.slug, "moz-tza"]) in page


def test_anonymous_readers_see_the_last_published_day_and_published_totals(client, world, operation):
    page = text(client.get(f"/flows/{operation.slug}/"))
    row = re.search(r'<tr data-code="FMP-NGM">(.*?)</tr>', page).group(1)
    assert "2024-03-07" in row and "2024-03-14" not in row
    assert f"{people(world['rows'], fmp=world['negomano'], until=PUBLISHED_TO):,}" in row


def test_the_import_link_is_for_those_who_may_import(client, viewer, data_manager, world, operation):
    client.force_login(viewer)
    assert reverse("core:imports") not in text(client.get(f"/flows/{operation.slug}/")).split("<main")[1]
    client.force_login(data_manager)
    assert "Import flow data" in text(client.get(f"/flows/{operation.slug}/"))


# --- one point ------------------------------------------------------------------------------------


def test_a_member_sees_every_day_with_the_unpublished_ones_marked(client, viewer, world, operation):
    client.force_login(viewer)
    response = client.get(f"/flows/{operation.slug}/points/FMP-NGM/")
    assert response.status_code == 200
    series = script_json(response, "series-data")
    daily = series["daily"]
    assert daily["labels"][0] == "2024-03-01" and daily["labels"][-1] == "2024-03-14"
    inflow = next(s["values"] for s in daily["series"] if s["direction"] == "in")
    assert inflow[1] == 16 and inflow[0] == 15  # the rare traveller came on day 2
    assert daily["published"] == [d <= 6 for d in range(DAYS)]
    page = text(response)
    assert 'id="draft-marker"' in page and "7 unpublished days" in page
    totals = re.search(r'id="point-totals".*?</ul>', page).group(0)
    assert f"{people(world['rows'], fmp=world['negomano'], direction='in'):,}" in totals


def test_weekly_series_sums_the_days_of_each_week(client, viewer, world, operation):
    client.force_login(viewer)
    weekly = script_json(client.get(f"/flows/{operation.slug}/points/FMP-NGM/?period=weekly"), "series-data")[
        "weekly"
    ]
    # 2024-03-01 is a Friday: weeks start on Monday 26 February, 4 March and 11 March.
    assert weekly["labels"] == ["2024-02-26", "2024-03-04", "2024-03-11"]
    inflow = next(s["values"] for s in weekly["series"] if s["direction"] == "in")
    assert inflow == [3 * 15 + 1, 7 * 15, 4 * 15]
    assert weekly["published"] == [
        False,
        False,
        False,
    ]  # 26 Feb–3 Mar and the last week are not all published
    outflow = next(s["values"] for s in weekly["series"] if s["direction"] == "out")
    assert sum(outflow) == people(world["rows"], fmp=world["negomano"], direction="out")


def test_anonymous_readers_see_the_published_days_and_small_cells_suppressed(client, world, operation):
    response = client.get(f"/flows/{operation.slug}/points/FMP-NGM/")
    assert response.status_code == 200
    daily = script_json(response, "series-data")["daily"]
    assert daily["labels"][-1] == PUBLISHED_TO.isoformat()
    page = text(response)
    assert 'id="draft-marker"' not in page
    nationality = re.search(r'id="breakdown-nationality"(.*?)</section>', page).group(1)
    assert "suppressed" in nationality and "Malawi" in nationality
    # One hidden cell could be worked out from the total: the next smallest is hidden too.
    assert nationality.count("suppressed") >= 2
    bars = script_json(response, "breakdowns-data")["nationality"]
    assert None in bars["values"] and 1 not in bars["values"]


def test_members_see_the_small_cells(client, viewer, world, operation):
    client.force_login(viewer)
    response = client.get(f"/flows/{operation.slug}/points/FMP-NGM/")
    bars = script_json(response, "breakdowns-data")
    labels = dict(zip(bars["nationality"]["labels"], bars["nationality"]["values"], strict=True))
    assert labels["Malawi"] == 1
    expected = Counter()
    for r in world["rows"]:
        if r["fmp"] == world["negomano"]:
            expected[r["nationality"]] += r["individuals"]
    assert labels[country_label("TZA")] == expected["TZA"]
    reasons = dict(zip(bars["reason"]["labels"], bars["reason"]["values"], strict=True))
    assert reasons["Conflict / insecurity"] == people(world["rows"], fmp=world["negomano"], reason="conflict")
    transport = dict(zip(bars["transport"]["labels"], bars["transport"]["values"], strict=True))
    assert transport["Bus / truck"] == people(world["rows"], fmp=world["negomano"], transport="bus")


def test_breakdowns_follow_the_direction_and_dates(client, viewer, world, operation):
    client.force_login(viewer)
    response = client.get(
        f"/flows/{operation.slug}/points/FMP-NGM/?direction=out&date_from=2024-03-05&date_to=2024-03-06"
    )
    bars = script_json(response, "breakdowns-data")
    assert bars["reason"]["values"] == [16]  # two days of 8 leaving for work
    assert script_json(response, "series-data")["daily"]["labels"] == ["2024-03-05", "2024-03-06"]


def test_estimates_show_the_interval_coverage_and_what_was_counted(client, viewer, world, operation):
    FlowPublication.objects.filter(operation=operation).update(date_to=dt.date(2024, 3, 10))
    client.force_login(viewer)
    page = text(client.get(f"/flows/{operation.slug}/points/FMP-NGM/"))
    table = re.search(r'<table id="estimates-week".*?</table>', page).group(0)
    assert "In (entering)" in table and "Out (leaving)" in table
    assert "<b>171</b>" in table and "[150–200]" in table and "counted 105 · 50 % of hours" in table
    assert "Estimated total (bold)" in page and "Counted:" in page
    assert table.index("2024-03-11") < table.index("2024-03-04")  # newest first
    assert table.count("badge-draft") == 1  # the unpublished week


def test_anonymous_readers_see_only_estimates_of_published_periods(client, world, operation):
    FlowPublication.objects.filter(operation=operation).update(date_to=dt.date(2024, 3, 10))
    page = text(client.get(f"/flows/{operation.slug}/points/FMP-NGM/"))
    table = re.search(r'<table id="estimates-week".*?</table>', page).group(0)
    assert "2024-03-04" in table and "2024-03-11" not in table and "badge-draft" not in table


def test_a_bad_date_is_a_clear_400(client, viewer, world, operation):
    client.force_login(viewer)
    response = client.get(f"/flows/{operation.slug}/points/FMP-NGM/?date_from=2024-13-01")
    assert response.status_code == 400 and b"valid date" in response.content
    response = client.get(f"/flows/{operation.slug}/points/FMP-NGM/?date_from=2024-03-09&date_to=2024-03-01")
    assert response.status_code == 400 and b"after the end date" in response.content


def test_an_unknown_point_is_404(client, viewer, world, operation):
    client.force_login(viewer)
    assert client.get(f"/flows/{operation.slug}/points/NOPE/").status_code == 404


# --- corridor -------------------------------------------------------------------------------------


def test_the_corridor_balance_is_in_minus_out_per_day_and_per_point(client, viewer, world, operation):
    client.force_login(viewer)
    response = client.get(f"/flows/{operation.slug}/corridors/moz-tza/")
    assert response.status_code == 200
    balance = script_json(response, "balance-data")
    assert len(balance["labels"]) == DAYS
    # per day: Negomano 15 in, 8 out; Namoto 4 in, 12 out → 19 in, 20 out
    assert balance["inflow"][0] == 19 and balance["outflow"][0] == 20 and balance["balance"][0] == -1
    assert balance["balance"][1] == 0  # the rare traveller
    page = text(response)
    ngm = re.search(r'<tr data-code="FMP-NGM">(.*?)</tr>', page).group(1)
    nin = people(world["rows"], fmp=world["negomano"], direction="in")
    nout = people(world["rows"], fmp=world["negomano"], direction="out")
    assert f">{nin:,}<" in ngm and f">{nout:,}<" in ngm and f"+{nin - nout:,}" in ngm
    nmt = re.search(r'<tr data-code="FMP-NMT">(.*?)</tr>', page).group(1)
    assert f"{4 * DAYS - 12 * DAYS:,}" in nmt
    assert "FMP-PMB" not in page  # not on this corridor


def test_the_corridor_date_filter_and_public_view(client, world, operation):
    response = client.get(f"/flows/{operation.slug}/corridors/moz-tza/?date_from=2024-03-06")
    balance = script_json(response, "balance-data")
    assert balance["labels"] == ["2024-03-06", "2024-03-07"]  # public: the published days only
    assert all(balance["published"])


# --- origin–destination ---------------------------------------------------------------------------


def test_the_od_table_and_lines_add_up(client, viewer, world, operation):
    client.force_login(viewer)
    response = client.get(f"/flows/{operation.slug}/od/")
    assert response.status_code == 200
    lines = script_json(response, "od-lines")
    by_label = {line["label"]: line["individuals"] for line in lines}
    tza_moz = sum(
        r["individuals"] for r in world["rows"] if r["from_country"] == "TZA" and r["to_country"] == "MOZ"
    )
    assert any(v == tza_moz for v in by_label.values())
    # MOZ → MOZ (inside the country) is in the table but not drawn as a line.
    assert all("→" in label and label.split(" → ")[0] != label.split(" → ")[1] for label in by_label)
    page = text(response)
    assert f"{sum(r['individuals'] for r in world['rows']):,} people counted" in page


def test_od_filters_by_point_corridor_and_direction(client, viewer, world, operation):
    client.force_login(viewer)
    lines = script_json(client.get(f"/flows/{operation.slug}/od/?fmp=FMP-NMT&direction=out"), "od-lines")
    assert [line["individuals"] for line in lines] == [12 * DAYS]
    lines = script_json(client.get(f"/flows/{operation.slug}/od/?corridor=moz-tza&direction=in"), "od-lines")
    assert sum(line["individuals"] for line in lines) == people(
        [r for r in world["rows"] if r["fmp"] != world["pemba"]], direction="in"
    )


def test_od_for_anonymous_readers_is_published_and_suppressed(client, world, operation):
    response = client.get(f"/flows/{operation.slug}/od/")
    page = text(response)
    assert "suppressed" in page  # Malawi → Mozambique, one person
    lines = script_json(response, "od-lines")
    assert all(line["individuals"] >= 5 for line in lines)
    namoto_out = script_json(client.get(f"/flows/{operation.slug}/od/?fmp=FMP-NMT&direction=out"), "od-lines")
    assert [line["individuals"] for line in namoto_out] == [12 * 7]


def test_od_at_admin1_without_boundaries_falls_back_to_countries(client, viewer, world, operation):
    FlowCount.objects.filter(record_id="N0a").update(from_admin1="TZ07", to_admin1="MZ01")
    client.force_login(viewer)
    response = client.get(f"/flows/{operation.slug}/od/?level=admin1")
    page = text(response)
    assert "no admin 1 boundaries" in page
    assert script_json(response, "od-lines")  # drawn between countries


def test_od_at_admin1_draws_lines_between_areas_with_boundaries(client, viewer, world, operation):
    from mobility.gazetteer.models import AdminArea, GazetteerVersion

    version = GazetteerVersion.objects.create(
        country_iso3="MOZ", edition="test", valid_from=dt.date(2019, 1, 1)
    )
    for pcode, name, box in [
        ("MZ01", "Cabo Delgado", (37.8, -14.0, 40.9, -10.4)),
        ("MZ07", "Nampula", (37.6, -17.2, 40.9, -13.8)),
    ]:
        AdminArea.objects.create(
            version=version, country_iso3="MOZ", pcode=pcode, level=1, name=name, name_normalized=name.lower(),
            min_lon=box[0], min_lat=box[1], max_lon=box[2], max_lat=box[3],
        )  # fmt: skip
    FlowCount.objects.filter(fmp=world["pemba"]).update(from_admin1="MZ01", to_admin1="MZ07")
    client.force_login(viewer)
    response = client.get(f"/flows/{operation.slug}/od/?level=admin1&fmp=FMP-PMB")
    lines = script_json(response, "od-lines")
    assert lines == [
        {
            "from": [-12.2, 39.35],
            "to": [-15.5, 39.25],
            "label": "Cabo Delgado → Nampula",
            "individuals": 20 * DAYS,
        }
    ]
    assert "no admin 1 boundaries" not in text(response)

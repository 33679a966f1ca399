"""In a real browser: import flow counts on the Imports page and read them on the point's page;
open a corridor and read its daily balance.

The counts are a small file in the Mobility flow template, written here; the totals the pages must
show are summed from the same rows with the csv module, not through the importer.
"""

from __future__ import annotations

import csv
import datetime as dt
import re

from tests.browser import PASSWORD, needs_chromium

pytestmark = needs_chromium

HEADER = [
    "fmp_code", "record_id", "date", "hour_start", "period_hours", "direction", "from_country", "to_country",
    "nationality", "transport", "reason", "individuals",
]  # fmt: skip


def write_counts(path) -> list[dict]:
    """Five days at Negomano: groups from Tanzania coming in every hour from 6 to 9, a few going out."""
    rows = []
    for day in range(5):
        date = (dt.date(2024, 3, 4) + dt.timedelta(days=day)).isoformat()
        for hour in range(6, 10):
            rows.append(
                {
                    "fmp_code": "FMP-NGM",
                    "record_id": f"{date}-{hour}-in",
                    "date": date,
                    "hour_start": hour,
                    "period_hours": 1,
                    "direction": "in",
                    "from_country": "TZA",
                    "to_country": "MOZ",
                    "nationality": "TZA" if hour % 2 else "MOZ",
                    "transport": "foot",
                    "reason": "conflict",
                    "individuals": 5 + hour + day,
                }
            )
        rows.append(
            {"fmp_code": "FMP-NGM", "record_id": f"{date}-out", "date": date, "hour_start": 8, "period_hours": 1,
             "direction": "out", "from_country": "MOZ", "to_country": "TZA", "nationality": "MOZ",
             "transport": "bus", "reason": "economic", "individuals": 7}
        )  # fmt: skip
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def login(page, live_server, username: str, next_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form.form button[type=submit]")
    expect(page).to_have_url(re.compile(re.escape(next_url) + "$"))


def test_import_flow_counts_and_read_them_on_the_point_page(
    page, live_server, transactional_db, django_user_model, tmp_path
):
    from playwright.sync_api import expect

    from mobility.core.models import ImportJob, Membership, Role
    from mobility.core.services import operation_create
    from mobility.flows.models import Corridor, FlowMonitoringPoint

    operation = operation_create(name="Mozambique — Cabo Delgado", country_iso3="MOZ")
    user = django_user_model.objects.create_user(username="imo", password=PASSWORD)
    Membership.objects.create(user=user, operation=operation, role=Role.DATA_MANAGER)
    corridor = Corridor.objects.create(operation=operation, slug="moz-tza", name="Mozambique–Tanzania border")
    FlowMonitoringPoint.objects.create(
        operation=operation, code="FMP-NGM", name="Negomano", type="border_crossing", corridor=corridor,
        country_iso3="MOZ", border_country_iso3="TZA", latitude=-11.43, longitude=38.47,
        observed_days=list(range(7)), observed_hours=list(range(6, 10)),
    )  # fmt: skip
    counts = tmp_path / "negomano_counts.csv"
    rows = write_counts(counts)
    came_in = sum(r["individuals"] for r in rows if r["direction"] == "in")
    went_out = sum(r["individuals"] for r in rows if r["direction"] == "out")

    login(page, live_server, "imo", "/imports/")
    page.set_input_files("#id_file", str(counts))
    page.select_option("#id_kind", "flows.counts")
    page.select_option("#id_operation", str(operation.pk))
    page.click("text=Upload and import")
    expect(page).to_have_url(re.compile(r"/imports/\d+/$"))
    expect(page.locator("#job-status")).to_have_text("Succeeded", timeout=30_000)
    assert ImportJob.objects.get(kind="flows.counts").operation == operation

    # The flows page lists the point with its last count, and its map draws it.
    page.click("nav.nav >> text=Flows")
    expect(page).to_have_url(re.compile(rf"/flows/{operation.slug}/$"))
    expect(page.locator('#fmp-table tr[data-code="FMP-NGM"]')).to_contain_text("2024-03-08")
    expect(page.locator('#fmp-table tr[data-code="FMP-NGM"]')).to_contain_text(f"{came_in + went_out:,}")
    expect(page.locator("#fmp-map")).to_have_attribute("data-loaded", "1")

    # The point's page: what was counted each way, drawn day by day, and the breakdowns.
    page.click("#fmp-table >> text=Negomano")
    expect(page.locator("h1")).to_contain_text("Negomano")
    expect(page.locator("#point-totals")).to_contain_text(f"{came_in:,}")
    expect(page.locator("#point-totals")).to_contain_text(f"{went_out:,}")
    expect(page.locator("#draft-marker")).to_contain_text("5 unpublished days")
    expect(page.locator("#series-chart")).to_have_attribute("data-points", "5")
    page.click("a[data-period=weekly]")
    expect(page.locator("#series-chart")).to_have_attribute("data-points", "1")
    expect(page).to_have_url(re.compile(r"period=weekly"))
    reason = page.locator("#breakdown-reason")
    expect(reason).to_contain_text("Conflict / insecurity")
    expect(reason).to_contain_text(f"{came_in:,}")
    assert page.locator("canvas.bar-chart[data-done='1']").count() == 3


def test_a_corridor_page_shows_the_daily_balance_and_each_point(
    page, live_server, transactional_db, django_user_model
):
    from playwright.sync_api import expect

    from mobility.core.models import Membership, Role
    from mobility.core.services import operation_create
    from tests.flows.test_pages import DAYS, flow_world, people

    operation = operation_create(name="Mozambique — Cabo Delgado", country_iso3="MOZ")
    user = django_user_model.objects.create_user(username="reader", password=PASSWORD)
    Membership.objects.create(user=user, operation=operation, role=Role.VIEWER)
    world = flow_world(operation)

    login(page, live_server, "reader", f"/flows/{operation.slug}/")
    page.click("#corridor-list >> text=Mozambique–Tanzania border")
    expect(page.locator("h1")).to_contain_text("Mozambique–Tanzania border")
    expect(page.locator("#balance-chart")).to_have_attribute("data-done", "1")
    expect(page.locator("#balance-chart")).to_have_attribute("data-points", str(DAYS))
    corridor_rows = [r for r in world["rows"] if r["fmp"] != world["pemba"]]
    came_in, went_out = people(corridor_rows, direction="in"), people(corridor_rows, direction="out")
    expect(page.locator("#corridor-totals")).to_contain_text(f"{came_in:,}")
    expect(page.locator("#corridor-totals")).to_contain_text(f"{came_in - went_out:+,}")
    expect(page.locator("#corridor-table tbody tr")).to_have_count(2)
    namoto = page.locator('#corridor-table tr[data-code="FMP-NMT"]')
    expect(namoto).to_contain_text(f"{(4 - 12) * DAYS:,}")

    # Narrow the dates: the chart and the table follow.
    page.fill("#f-from", "2024-03-10")
    page.click("#corridor-filters button[type=submit]")
    expect(page).to_have_url(re.compile(r"date_from=2024-03-10"))
    expect(page.locator("#balance-chart")).to_have_attribute("data-points", "5")
    expect(namoto).to_contain_text(f"{(4 - 12) * 5:,}")

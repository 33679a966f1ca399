"""In a real browser: move the date slider of the points of entry map and watch the statuses change."""

from __future__ import annotations

import datetime as dt
import re

from tests.browser import PASSWORD, needs_chromium

pytestmark = needs_chromium


def test_moving_the_date_slider_recolours_the_points_and_the_counts(
    page, live_server, transactional_db, django_user_model
):
    from playwright.sync_api import expect

    from mobility.core.models import Membership, Role
    from mobility.core.services import operation_create
    from tests.restrictions.test_pages import poe_world

    operation = operation_create(name="Mozambique — Cabo Delgado", country_iso3="MOZ")
    user = django_user_model.objects.create_user(username="reader", password=PASSWORD)
    Membership.objects.create(user=user, operation=operation, role=Role.VIEWER)
    poe_world(operation)
    first = dt.date(2020, 3, 1)

    page.goto(f"{live_server.url}/login/?next=/restrictions/")
    page.fill("#id_username", "reader")
    page.fill("#id_password", PASSWORD)
    page.click("form.form button[type=submit]")
    page.goto(f"{live_server.url}/restrictions/{operation.slug}/points/?date=2020-03-05")
    airport = page.locator('#poe-map path[data-code="MPM"]')
    expect(airport).to_have_attribute("data-status", "open")
    expect(page.locator("#count-open")).to_have_text("2")
    expect(page.locator("#count-closed")).to_have_text("0")
    expect(page.locator("#poe-timeline-chart")).to_have_attribute("data-done", "1")

    # Slide to 15 April 2020: the airport and Pemba are closed, Negomano partly open after its correction.
    page.locator("#poe-slider").fill(str((dt.date(2020, 4, 15) - first).days))
    expect(page.locator("#poe-date")).to_have_text("2020-04-15")
    expect(page).to_have_url(re.compile(r"date=2020-04-15"))
    expect(airport).to_have_attribute("data-status", "closed")
    expect(page.locator('#poe-map path[data-code="NGM"]')).to_have_attribute("data-status", "partial")
    expect(page.locator("#count-closed")).to_have_text("2")
    expect(page.locator("#count-partial")).to_have_text("1")
    expect(page.locator("#count-open")).to_have_text("0")
    expect(page.locator('#poe-table tr[data-code="MPM"] .js-status')).to_have_text("Closed")
    expect(page.locator("#poe-slider")).to_have_attribute("data-loaded-date", "2020-04-15")

    # With the keyboard, to the end of the history: the airport's reopening is a draft.
    page.locator("#poe-slider").focus()
    page.keyboard.press("End")
    expect(page.locator("#poe-date")).to_have_text("2020-09-01")
    expect(airport).to_have_attribute("data-status", "open")
    expect(page.locator('#poe-table tr[data-code="MPM"] .js-status')).to_contain_text("draft")
    expect(page.locator("#count-unknown")).to_have_text("1")

    # The date is in the address: a reload shows the same day.
    page.reload()
    expect(page.locator("#poe-date")).to_have_text("2020-09-01")
    expect(page.locator("#f-date")).to_have_value("2020-09-01")

    # The travel restrictions tab opens from here and draws its map.
    page.click(".r-tabs >> text=Travel restrictions")
    expect(page).to_have_url(re.compile(rf"/restrictions/{operation.slug}/travel/"))
    expect(page.locator("#travel-map")).to_have_attribute("data-done", "1")

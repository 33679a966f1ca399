"""In a real browser: record a distribution on a household's page, be refused a second kit in the
period, and be refused for a household registered twice (same dedup cluster) too."""

from __future__ import annotations

import re

from tests.browser import PASSWORD, needs_chromium

pytestmark = needs_chromium


def login(page, live_server, username: str, next_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form.form button[type=submit]")
    expect(page).to_have_url(re.compile(re.escape(next_url) + "$"))


def test_a_second_kit_is_refused_for_the_household_and_for_its_duplicate(
    page, live_server, transactional_db, django_user_model
):
    from playwright.sync_api import expect

    from mobility.core.models import Role
    from mobility.core.services import operation_create
    from mobility.registration import assistance as a
    from mobility.registration.models import Capability, Distribution
    from tests.registration.assist_helpers import family, granted, same_person, site_make

    operation = operation_create(name="Mozambique — Cabo Delgado", country_iso3="MOZ")
    manager = granted(
        django_user_model, operation, "imo", role=Role.DATA_MANAGER, capabilities=[Capability.DISTRIBUTE]
    )
    granted(django_user_model, operation, "distributor", capabilities=[Capability.DISTRIBUTE])
    site = site_make(operation)
    nfi = a.item_create(operation=operation, code="NFI", name="NFI kit", by=manager)
    a.entitlement_set(operation=operation, item=nfi, period_days=90, by=manager)
    household = family(operation, "HH-0001", site_code=site.code)
    twin = family(operation, "HH-0002", site_code=site.code)
    same_person(household, twin)  # the dedup engine put the two heads in one cluster

    url = f"/registration/{operation.slug}/households/HH-0001/distribute/"
    login(page, live_server, "distributor", url)
    page.select_option("#id_item", label="NFI kit (NFI)")
    page.fill("#id_quantity", "1")
    page.fill("#id_distributor", "IOM")
    page.click("#record")
    expect(page.locator(".message-success")).to_contain_text("Recorded: 1 × NFI kit")
    expect(page.locator("#received tbody tr")).to_have_count(1)
    assert Distribution.objects.filter(household=household).count() == 1

    # A second kit the same day: refused, with the reason, and no override for a distributor.
    page.select_option("#id_item", label="NFI kit (NFI)")
    page.click("#record")
    expect(page.locator("#refusal")).to_contain_text("this household already received NFI")
    expect(page.locator("#refusal")).to_contain_text("Only a data manager or admin")
    expect(page.locator("#id_override_reason")).to_have_count(0)

    # The same family registered a second time: refused as well.
    page.goto(f"{live_server.url}/registration/{operation.slug}/households/HH-0002/distribute/")
    expect(page.locator("#linked-note")).to_be_visible()
    page.select_option("#id_item", label="NFI kit (NFI)")
    page.click("#record")
    expect(page.locator("#refusal")).to_contain_text(
        "a household linked to this one as a duplicate already received NFI"
    )
    assert Distribution.objects.count() == 1

"""In a real browser: upload an XLSForm, see how to connect ODK Collect, browse the submissions on the map."""

from __future__ import annotations

import re

from tests.browser import PASSWORD, needs_chromium

from .forms import instance_xml, simple_xlsform, xlsform

pytestmark = needs_chromium


def test_upload_a_form_and_browse_its_submissions_on_the_map(
    page, live_server, transactional_db, django_user_model, tmp_path
):
    from playwright.sync_api import expect

    from mobility.collection.models import Form, Submission
    from mobility.collection.services import submission_receive
    from mobility.core.models import Membership, Role
    from mobility.core.services import operation_create

    operation = operation_create(name="Mozambique — Cabo Delgado", country_iso3="MOZ")
    user = django_user_model.objects.create_user(username="imo", password=PASSWORD)
    Membership.objects.create(user=user, operation=operation, role=Role.DATA_MANAGER)

    page.goto(f"{live_server.url}/login/?next=/collection/")
    page.fill("#id_username", "imo")
    page.fill("#id_password", PASSWORD)
    page.click("form.form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/collection/$"))

    # A broken workbook: pyxform's message, placed on its sheet and row.
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(
        xlsform(
            [["type", "name", "label"], ["text", "a", "A"], ["select_one nolist", "b", "B"]],
            [["list_name", "name", "label"], ["yesno", "yes", "Yes"]],
        )
    )
    page.set_input_files("#id_file", str(broken))
    page.click("text=Upload and publish")
    expect(page.locator(".pyxform-problems .where")).to_have_text("sheet survey · row 3")
    expect(page.locator(".pyxform-problems")).to_contain_text("List name not in choices sheet: nolist")

    # The real one is published and its page tells how to connect a phone.
    workbook = tmp_path / "household_visit.xlsx"
    workbook.write_bytes(simple_xlsform())
    page.set_input_files("#id_file", str(workbook))
    page.click("text=Upload and publish")
    form = Form.objects.get(xml_form_id="household_visit")
    expect(page).to_have_url(re.compile(rf"/collection/{form.pk}/$"))
    expect(page.locator(".message-success")).to_contain_text("is published")
    expect(page.locator("#collect-url")).to_have_text(f"{live_server.url}/collect/{operation.slug}")
    expect(page.locator(".collect-qr svg")).to_be_visible()

    # Submissions arrive from phones; the browser shows them and their points.
    for n, (gps, who) in enumerate(
        [("-12.97 40.52 0 5", "enum"), ("-13.10 39.90 0 5", "enum"), ("", "other")]
    ):
        received = submission_receive(
            operation=operation, raw=instance_xml(f"uuid:{n:04d}aaaa", gps=gps), by=user
        )
        Submission.objects.filter(pk=received.submission.pk).update(enumerator=who)
    page.click(".tabs >> text=Submissions")
    expect(page).to_have_url(re.compile(rf"/collection/{form.pk}/submissions/$"))
    expect(page.locator(".submission-table tbody tr")).to_have_count(3)
    expect(page.locator("#submission-map")).to_have_attribute("data-loaded", "2")
    expect(page.locator("#submission-map path.leaflet-interactive")).to_have_count(2)

    # Filtering narrows the table and the map alike.
    page.select_option("#id_enumerator", "other")
    page.click("#submission-filters button[type=submit]")
    expect(page.locator(".submission-table tbody tr")).to_have_count(1)
    expect(page.locator("#submission-map")).to_have_attribute("data-loaded", "0")
    expect(page.locator("#submission-map-note")).to_contain_text("None of these submissions has a GPS point")

    # One submission, with its labelled values.
    page.click(".submission-table tbody tr a")
    expect(page.locator("h1")).to_contain_text("uuid:0002aaaa")
    expect(page.locator("table.values")).to_contain_text("People in household")

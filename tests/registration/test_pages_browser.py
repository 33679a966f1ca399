"""In a real browser: register a household, register it again with other spellings, see the duplicate
suggested in the review queue, merge it, and find the merge on the household's page.

With ``SHOTS_DIR`` set (e.g. ``SHOTS_DIR=/tmp/h/shots``) the test also saves a screenshot of every
registration page at 1280 px and at phone width (390 px).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.browser import PASSWORD, needs_chromium

pytestmark = needs_chromium

FIRST = {
    "head": ("Amina", "Saíde", "f", "1988-05-17", "110100123456B"),
    "child": ("Zaituni", "Saíde", "m", "6"),
    "phone": "+258 84 123 4567",
}
# The same woman registered again elsewhere: another spelling, an age instead of a date, no phone.
SECOND = {"head": ("Aminah", "Saide", "f", 1988)}


def login(page, live_server, username: str, next_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form.form button[type=submit]")
    expect(page).to_have_url(re.compile(re.escape(next_url) + "$"))


def shoot(page, name: str) -> None:
    """Screenshots at desktop and phone width when SHOTS_DIR is set (for a person to look at)."""
    folder = os.environ.get("SHOTS_DIR")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    page.screenshot(path=f"{folder}/{name}-1280.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=f"{folder}/{name}-390.png", full_page=True)
    height = page.evaluate("document.documentElement.scrollHeight")
    for part, top in enumerate(range(0, height, 1100), start=1):  # slices a person can read
        clip = {"x": 0, "y": top, "width": 390, "height": min(1100, height - top)}
        page.screenshot(path=f"{folder}/{name}-390-{part}.png", full_page=True, clip=clip)
    page.set_viewport_size(size)


def fill_member(page, index: int, given, family, sex, dob_or_age, document="", relationship=None):
    prefix = f"#id_member-{index}-"
    page.fill(prefix + "given_name", given)
    page.fill(prefix + "family_name", family)
    if relationship:
        page.select_option(prefix + "relationship", relationship)
    page.select_option(prefix + "sex", sex)
    if "-" in dob_or_age:
        page.fill(prefix + "date_of_birth", dob_or_age)
    else:
        page.fill(prefix + "age", dob_or_age)
    if document:
        page.locator(f"{prefix}document_number").locator("xpath=ancestor::details").locator("summary").click()
        page.select_option(prefix + "document_type", "national_id")
        page.fill(prefix + "document_number", document)


def test_register_find_a_duplicate_merge_it_and_see_the_merge(browser, live_server, transactional_db,
                                                              django_user_model, settings):  # fmt: skip
    from django.utils import timezone
    from playwright.sync_api import expect

    from mobility.core.models import Membership, Role
    from mobility.core.services import operation_create
    from mobility.registration import access, dedup_app, selectors
    from mobility.registration.models import Household, Individual, MatchPair
    from tests.gazetteer.gazetteer_fixtures import load_gazetteer

    from .pages_world import background_registry

    load_gazetteer("MOZ", geometry=False)
    operation = operation_create(name="Mozambique — Cabo Delgado", country_iso3="MOZ")
    admin = django_user_model.objects.create_user(username="admin", password=PASSWORD, is_superuser=True)
    registrar = django_user_model.objects.create_user(username="registrar", password=PASSWORD)
    reviewer = django_user_model.objects.create_user(username="reviewer", password=PASSWORD)
    outsider = django_user_model.objects.create_user(username="figures", password=PASSWORD)
    for user in (registrar, reviewer, outsider):
        Membership.objects.create(user=user, operation=operation, role=Role.ENUMERATOR)
    access.grant_set(operation=operation, user=registrar, capabilities=["register", "view"], by=admin)
    access.grant_set(
        operation=operation, user=reviewer, capabilities=["review", "view", "register"], by=admin
    )
    base = f"/registration/{operation.slug}"
    background_registry(operation)  # a few hundred people already registered
    settings.SYNC_JOBS = True  # the matching after a registration runs in the request, not as a job

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # 1. The registrar registers a family of two.
    login(page, live_server, "registrar", f"{base}/")
    expect(page.locator("nav.nav a[aria-current=page]")).to_have_text("Registration")
    page.click("text=Register a household")
    expect(page.locator("h1")).to_have_text("Register a household")
    page.fill("#id_household_size", "2")
    page.fill("#id_phone", FIRST["phone"])
    # The location field suggests p-codes from the gazetteer as one types a place name.
    page.locator("#id_location_pcode").press_sequentially("Metuge Se", delay=30)
    expect(page.locator("#location-options option[value=MZ010901]")).to_have_count(1)
    page.fill("#id_location_pcode", "MZ010901")
    given, family, sex, dob, document = FIRST["head"]
    fill_member(page, 0, given, family, sex, dob, document)
    fill_member(page, 1, *FIRST["child"], relationship="child")
    page.check("#id_consent")
    page.check("input[name=consent_scope][value=assistance]")
    shoot(page, "pages_household_new")
    page.click("button[value=save]")
    expect(page).to_have_url(re.compile(rf"{base}/households/HH-[0-9A-F-]+/$"))
    expect(page.locator(".messages")).to_contain_text("registered with 2 people")
    expect(page.locator("#member-table")).to_contain_text("Amina Saíde")
    first = Household.objects.get(operation=operation, source=Household.Source.WEB)
    assert (first.location_pcode, first.admin2_pcode) == ("MZ010901", "MZ0109")
    # The operation's matching model is trained once on its own records (as `registration dedup-run` does).
    assert dedup_app.dedup_run(operation=operation).trained

    # 2. A mistake is shown at its field and nothing is stored; then the same family is registered again.
    page.goto(f"{live_server.url}{base}/households/new/")
    page.fill("#id_phone", "12ab")
    page.fill("#id_member-0-given_name", "Amina")
    page.select_option("#id_member-0-sex", "f")
    page.fill("#id_member-0-date_of_birth", "2099-01-01")
    page.click("button[value=save]")
    expect(page.locator("#form-problems")).to_contain_text("2 problems: nothing was saved.")
    expect(page.locator(".has-error #id_member-0-date_of_birth")).to_be_visible()
    shoot(page, "pages_household_errors")
    assert Household.objects.filter(operation=operation, source=Household.Source.WEB).count() == 1
    page.fill("#id_phone", "")
    given, family, sex, born = SECOND["head"]
    page.fill("#id_member-0-given_name", given)
    page.fill("#id_member-0-family_name", family)
    page.fill("#id_member-0-date_of_birth", "")
    page.fill("#id_member-0-age", str(timezone.localdate().year - born))
    # A third member block added in the page (no round trip), left empty: it is skipped.
    page.click("#add-member")
    expect(page.locator("#id_member-3-given_name")).to_be_visible()
    page.click("button[value=save]")
    expect(page.locator(".messages")).to_contain_text("registered with 1 people")
    expect(page.locator(".messages")).not_to_contain_text("failed")
    second = Household.objects.exclude(pk=first.pk).get(operation=operation, source=Household.Source.WEB)

    # 3. The registration was matched against the registry as it arrived: the pair waits for review.
    a = first.members.get(relationship="head")
    b = second.members.get(relationship="head")
    pair = MatchPair.objects.get(left_id=min(a.pk, b.pk), right_id=max(a.pk, b.pk))
    assert pair.status == MatchPair.Status.PENDING and 0.5 <= pair.match_probability < 0.9
    waiting = selectors.review_queue(operation=operation).count()
    page.goto(f"{live_server.url}{base}/households/")
    shoot(page, "pages_household_list")
    page.fill("#id_q", "Amina Saíde")  # an exact full name finds the household through its keyed hash
    page.click("form[role=search] button[type=submit]")
    expect(page.locator(f'tr[data-reference="{first.reference}"]')).to_contain_text("review")
    expect(page.locator("#household-table tbody tr")).to_have_count(1)
    page.goto(f"{live_server.url}{base}/")
    expect(page.locator("#pending-review b")).to_have_text(str(waiting))
    context.close()

    # 4. The reviewer merges the second registration into the first.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, live_server, "reviewer", f"{base}/")
    shoot(page, "pages_home")
    page.click("text=Duplicate review")
    card = page.locator(f"#pair-{pair.pk}")
    expect(card).to_contain_text("Saíde")
    expect(card).to_contain_text("Aminah")
    expect(card.locator('tr[data-field="given_name"] .reg-verdict')).to_contain_text(
        re.compile("agrees|differs")
    )
    shoot(page, "review_queue")
    if os.environ.get("SHOTS_DIR"):
        card.screenshot(path=f"{os.environ['SHOTS_DIR']}/review_pair-1280.png")
        page.set_viewport_size({"width": 390, "height": 844})
        card.screenshot(path=f"{os.environ['SHOTS_DIR']}/review_pair-390.png")
        page.set_viewport_size({"width": 1280, "height": 900})
    keep = "merge_left" if pair.left_id == a.pk else "merge_right"
    card.locator(f"button[value={keep}]").click()
    expect(page.locator(f"#pair-{pair.pk}")).to_have_attribute("data-status", "merged")
    expect(page.locator(f"#pair-{pair.pk}")).to_contain_text(f"{b.reference} was merged into {a.reference}")
    shoot(page, "review_decided")
    assert Individual.objects.get(pk=b.pk).merged_into_id == a.pk

    # 5. The merge shows on both households' pages.
    page.click("text=Open the surviving record")
    expect(page).to_have_url(re.compile(rf"/households/{first.reference}/$"))
    expect(page.locator("#merges")).to_contain_text(b.reference)
    expect(page.locator("#absorbed")).to_contain_text(second.reference)
    shoot(page, "pages_household_detail")
    page.goto(f"{live_server.url}{base}/households/{second.reference}/")
    expect(page.locator("#household-status")).to_have_text("Closed")
    expect(page.locator(f'tr[data-reference="{b.reference}"]')).to_contain_text(f"merged into {a.reference}")
    page.goto(f"{live_server.url}{base}/households/{first.reference}/edit/")
    shoot(page, "pages_household_edit")
    page.goto(f"{live_server.url}{base}/")
    counted = Household.objects.filter(operation=operation).exclude(status="closed").count()
    assert counted == Household.objects.filter(operation=operation).count() - 1  # the merged one is closed
    expect(page.locator("#registry-figures .stats li").first.locator("b")).to_have_text(str(counted))
    context.close()

    # 6. A member without a grant sees figures only, and a 403 page for the records.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, live_server, "figures", f"{base}/")
    expect(page.locator("body")).not_to_contain_text("Amina")
    page.goto(f"{live_server.url}{base}/households/")
    expect(page.locator("h1")).to_have_text("No access to these records")
    shoot(page, "pages_denied")
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"

"""In Chromium, with the real Content-Security-Policy: the main pages of the demo (maps, charts, htmx,
the API docs) report no CSP violation in the console, and their maps and charts are drawn."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client

from tests.browser import needs_chromium

from .pages import crawl
from .test_csp import start_urls

pytestmark = [*needs_chromium, pytest.mark.heavy]

# One page of each of these (found by crawling the demo), plus what start_urls() lists.
MAIN_PAGES = [
    "core:operation_detail",
    "core:import_detail",
    "gazetteer:country",
    "gazetteer:area",
    "tracking:dashboard",
    "tracking:area",
    "tracking:compare",
    "tracking:event_detail",
    "publishing:release",
    "collection:submissions",
    "flows:operation",
    "flows:point",
    "flows:corridor",
    "flows:od",
    "restrictions:points",
    "restrictions:point",
    "restrictions:travel",
    "registration:households",
    "registration:household_new",
]
# Pages that draw a Leaflet map or a Chart.js chart once their script has run.
DRAWN = {
    "tracking:dashboard": ".leaflet-container",
    "flows:point": "canvas",
    "gazetteer:area": ".leaflet-container",
}

# Collects violations from the page itself (the console message is the browser's; this is the event).
LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile + ":" + e.lineNumber);
});
"""


def _pages_to_visit(admin) -> dict[str, str]:
    client = Client(raise_request_exception=False)
    client.force_login(admin)
    result = crawl(client, start_urls(), max_pages=700, per_route=1)
    by_name = {}
    for url, status in result.visited.items():
        name = result.names[url]
        if status == 200 and name not in by_name:
            by_name[name] = url
    missing = [name for name in MAIN_PAGES if name not in by_name]
    assert not missing, f"the demo has no page for {missing}"
    pages = {name: by_name[name] for name in MAIN_PAGES}
    for url in ("/", "/operations/", "/imports/", "/api/v1/docs", "/admin/"):
        pages[url] = url
    return pages


def test_the_main_pages_report_no_csp_violation(browser, live_server, transactional_db, django_user_model):
    call_command("demo", "--quiet", stdout=io.StringIO())
    admin = django_user_model.objects.get(username="admin")
    admin.set_password("a-long-test-password")
    admin.save()
    pages = _pages_to_visit(admin)

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(LISTEN)
    page = context.new_page()
    page.set_default_timeout(20_000)
    console: list[str] = []
    page.on(
        "console",
        lambda msg: (
            console.append(f"{page.url}: {msg.text}")
            if msg.type == "error" and ("Content Security Policy" in msg.text or "Refused to" in msg.text)
            else None
        ),
    )
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))

    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "a-long-test-password")
    page.click("form.form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    # First prove the listeners hear a violation: a page served with the policy and an inline script.
    probe = f"{live_server.url}/csp-probe/"
    page.route(
        probe,
        lambda route: route.fulfill(
            status=200,
            headers={"Content-Type": "text/html", "Content-Security-Policy": "script-src 'self'"},
            body="<!doctype html><p>probe</p><script>document.title = 'ran';</script>",
        ),
    )
    page.goto(probe)
    assert page.title() != "ran" and page.evaluate("window.__cspViolations")
    page.wait_for_timeout(200)
    assert console, "the console listener did not hear the probe's violation"
    console.clear()

    violations: dict[str, list[str]] = {}
    for name, url in pages.items():
        response = page.goto(f"{live_server.url}{url}")
        assert response.status == 200, (name, url, response.status)
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        if name in DRAWN:
            page.wait_for_selector(DRAWN[name], state="attached")
        seen = page.evaluate("window.__cspViolations")
        if seen:
            violations[url] = seen
    context.close()
    assert not violations, violations
    assert not console, console
    assert not errors, errors

"""A strict Content-Security-Policy on every response, and pages that need nothing it forbids: no inline
<script>, no on*= handlers or hx-on attributes, no javascript: addresses, no inline styles.

The pages are reached the way a person reaches them: from every address without parameters, following
each link (and hx-get address) on each page, as an administrator (who sees every page) and anonymously.
The heavy variant does the same over the whole demo (`mobility demo`), so that every page with data
(maps, charts, households, submissions...) is rendered with real-shaped rows.
"""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from .pages import crawl, inspect_html
from .urlwalk import routes

NINJA_MODULE = "ninja.operation"


def start_urls() -> list[str]:
    """Every GET-able address without parameters (the API's own data endpoints are JSON, not pages)."""
    urls = []
    for route in routes():
        if route.params or route.module == NINJA_MODULE or route.name == "logout":
            continue
        if route.route.startswith("admin/") and route.route != "admin/":
            continue
        urls.append("/" + route.route.replace("^", "").replace("$", ""))
    return sorted(set(urls))


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def test_the_checker_finds_what_it_looks_for():
    html = (
        '<script>alert(1)</script><script src="/static/x.js"></script>'
        '<script type="application/json" id="d">{"a": 1}</script>'
        '<button onclick="go()">Go</button><a href=" JavaScript:go()">x</a>'
        '<div hx-on:click="go()"></div><p style="color:red"></p><style>p{}</style>'
    )
    problems, _ = inspect_html(html)
    assert sorted(problems) == sorted(
        [
            "<script> without src (type=text/javascript)",
            "<button onclick=...> inline event handler",
            "<a href=javascript:...>",
            "<div hx-on:click=...> inline event handler",
            "<p style=...> inline style",
            "<style> block",
        ]
    )


def test_the_policy_allows_scripts_only_from_this_server(client, db):
    response = client.get("/")
    directives = csp_directives(response["Content-Security-Policy"])
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no CDN
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'self'"] and directives["form-action"] == ["'self'"]


def test_htmx_is_told_not_to_evaluate_or_inject_anything(client, db):
    html = client.get("/").content.decode()
    start = html.index('<meta name="htmx-config" content=\'') + len('<meta name="htmx-config" content=\'')
    config = json.loads(html[start : html.index("'", start)])
    assert config["allowEval"] is False
    assert config["includeIndicatorStyles"] is False
    assert config["allowScriptTags"] is False


def test_the_api_docs_load_swagger_from_this_server(client, db):
    html = client.get("/api/v1/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    problems, _ = inspect_html(html)
    assert not problems


def _assert_clean(result, *, at_least: int):
    assert len(result.visited) >= at_least, sorted(result.visited)
    assert not result.server_errors, result.server_errors
    assert not result.missing_csp, result.missing_csp
    assert not result.problems, json.dumps(result.problems, indent=1)


def test_every_page_reached_from_the_menus_is_clean(client, admin_user, operation):
    start = start_urls()
    assert "/" in start and "/login/" in start and "/api/v1/docs" in start
    _assert_clean(crawl(client, start), at_least=15)  # anonymous
    client.force_login(admin_user)
    _assert_clean(crawl(client, start), at_least=30)


# Pages with parameters that the demo must reach (one of each kind of data page at least).
DEMO_PAGES = {
    "core:operation_detail",
    "core:import_detail",
    "gazetteer:country",
    "gazetteer:area",
    "tracking:dashboard",
    "tracking:area",
    "tracking:compare",
    "tracking:event_detail",
    "publishing:release",
    "collection:form",
    "collection:submissions",
    "flows:operation",
    "flows:point",
    "flows:corridor",
    "restrictions:points",
    "restrictions:point",
    "registration:home",
    "registration:households",
    "registration:household",
}


@pytest.mark.heavy
@pytest.mark.django_db(transaction=True)
def test_every_page_of_the_demo_is_clean(client, django_user_model):
    call_command("demo", "--quiet", stdout=open("/dev/null", "w"))  # noqa: SIM115
    admin = django_user_model.objects.get(username="admin")
    client.force_login(admin)
    result = crawl(client, start_urls(), max_pages=700, per_route=2)
    _assert_clean(result, at_least=80)
    missing = sorted(DEMO_PAGES - set(result.routes))
    assert not missing, f"the crawl never reached: {missing}"

"""Every address that changes something refuses a cross-site POST: without the CSRF token a signed-in
browser's request is refused (403) before the view runs.

Exempt by design, and listed here with the reason so that a new exemption fails this file:

- OpenRosa (``/collect/<operation>/...``, ODK Collect and Enketo): phones sign every request with HTTP
  Digest or Basic and have no CSRF token. A browser *session* may POST a submission only with the
  ``X-OpenRosa-Version`` header, which a cross-site HTML form cannot send.
- The Central-compatible API (``/v1/...``, pyodk and ruODK): a bearer token or HTTP Basic; the web
  session is accepted for GET and HEAD only. ``POST /v1/sessions`` takes the password in the body and
  sets no cookie.
- The django-ninja APIs (``/api/v1``, ``/api/dtm/v3``) are exempt from Django's middleware and check
  CSRF themselves: a request authenticated by the session cookie must carry the token; one that sends
  ``Authorization: Bearer <token>`` needs none (a browser never adds that header across sites).
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from mobility.collection.openrosa import SESSION_NEEDS_HEADER
from mobility.core.services import api_token_create

from .urlwalk import routes, url_for

OPENROSA = {
    "openrosa:form-list",
    "openrosa:submission",
    "openrosa:form-xml",
    "openrosa:manifest",
    "openrosa:media",
}
CENTRAL = {
    "central-sessions",
    "central-session",
    "central-user-current",
    "central-projects",
    "central-project",
    "central-forms",
    "central-form-xml",
    "central-odata",
    "central-form",
}
NINJA_MODULE = "ninja.operation"
DJANGO_CSRF_FAILURE = b"CSRF verification failed"
NINJA_CSRF_FAILURE = b"CSRF check Failed"


def _is_ninja(route) -> bool:
    return route.module == NINJA_MODULE


def _protected_routes():
    return [r for r in routes() if not r.csrf_exempt]


def _browser(user) -> Client:
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(user)
    return client


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _token(client: Client) -> str:
    client.get("/login/")
    return client.cookies["csrftoken"].value


def test_the_csrf_exempt_views_are_exactly_the_listed_ones(db):
    exempt = {r.name for r in routes() if r.csrf_exempt and not _is_ninja(r)}
    assert exempt == OPENROSA | CENTRAL
    ninja = [r for r in routes() if _is_ninja(r)]
    assert ninja and all(r.route.startswith(("api/v1/", "api/dtm/v3/")) for r in ninja)


def test_every_post_without_a_token_is_refused(admin_user, operation):
    client = _browser(admin_user)
    protected = _protected_routes()
    assert len(protected) > 400  # the pages, the admin, set_language, login and logout
    unreachable, accepted = [], []
    for route in protected:
        url = url_for(route, operation.slug)
        if url is None:
            unreachable.append(route.route)
            continue
        response = client.post(url, {"anything": "1"})
        if response.status_code != 403 or DJANGO_CSRF_FAILURE not in response.content:
            accepted.append(f"{url} -> {response.status_code}")
    assert not unreachable, f"no sample URL for: {unreachable} (add a sample in tests/security/urlwalk.py)"
    assert not accepted, f"POST without a CSRF token was not refused: {accepted}"


def test_with_the_token_the_same_posts_pass_the_csrf_check(admin_user, operation):
    """The refusal above is the CSRF check and nothing else: the token lets every one of them through."""
    client = _browser(admin_user)
    token = _token(client)
    refused = []
    for route in _protected_routes():
        if route.route.startswith("admin/") and route.name not in ("admin:index", "admin:login"):
            continue  # the admin is one app with one form handling; two of its views stand for the rest
        if route.name == "logout":
            continue  # would end the session the walk runs in
        url = url_for(route, operation.slug)
        response = client.post(url, {"csrfmiddlewaretoken": token}, HTTP_X_CSRFTOKEN=token)
        if DJANGO_CSRF_FAILURE in _body(response):
            refused.append(url)
    assert not refused


def test_logout_needs_the_token(admin_user):
    client = _browser(admin_user)
    assert client.post("/logout/").status_code == 403
    assert "_auth_user_id" in client.session  # still signed in
    token = _token(client)
    assert client.post("/logout/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert "_auth_user_id" not in client.session


def _write_operations(spec: dict) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, methods in spec["paths"].items()
        for method in methods
        if method.lower() in ("post", "put", "patch", "delete")
    ]


def _concrete(path: str, slug: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: slug if m.group(1) == "slug" else "1", path)


@pytest.fixture
def api_writes(client, db):
    writes = []
    for base in ("/api/v1/openapi.json", "/api/dtm/v3/openapi.json"):
        writes += _write_operations(client.get(base).json())
    assert len(writes) >= 4  # round create/advance/correct, import upload
    return writes


def test_api_writes_with_the_session_need_the_token(admin_user, operation, api_writes):
    client = _browser(admin_user)
    for method, path in api_writes:
        response = client.generic(method, _concrete(path, operation.slug), b"{}", "application/json")
        assert response.status_code == 403 and NINJA_CSRF_FAILURE in response.content, (method, path)
    token = _token(client)
    for method, path in api_writes:
        response = client.generic(
            method, _concrete(path, operation.slug), b"{}", "application/json", HTTP_X_CSRFTOKEN=token
        )
        assert NINJA_CSRF_FAILURE not in response.content, (method, path)


def test_api_writes_with_a_bearer_token_need_no_csrf_token(admin_user, operation, api_writes):
    _, key = api_token_create(user=admin_user, name="script")
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    for method, path in api_writes:
        response = client.generic(
            method,
            _concrete(path, operation.slug),
            b"{}",
            "application/json",
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
        assert response.status_code not in (401, 403), (method, path, response.content[:200])


def test_a_browser_session_cannot_post_a_submission_without_the_openrosa_header(enumerator, operation):
    client = _browser(enumerator)
    response = client.post(f"/collect/{operation.slug}/submission", {"anything": "1"})
    assert response.status_code == 403
    assert SESSION_NEEDS_HEADER.encode() in response.content


def test_the_central_api_does_not_take_the_web_session_for_writes(admin_user, operation):
    """Its one authenticated write (DELETE /v1/sessions/...) wants a bearer token or Basic, never the cookie."""
    client = _browser(admin_user)
    response = client.delete("/v1/sessions/current")
    assert response.status_code == 403 and response.json()["code"] == 403.1
    # A read with the same session works: the refusal is about the method, not the account.
    assert client.get(f"/v1/projects/{operation.pk}").status_code == 200

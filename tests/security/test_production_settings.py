"""Production settings (MOBILITY_PRODUCTION=1): HTTPS-only cookies that scripts cannot read, HSTS, the
proxy's HTTPS header, no framing, no sniffing, a same-origin referrer and the Content-Security-Policy.

The settings are loaded in a fresh interpreter exactly as a server would load them; their values are
then applied to the test server so that real requests show the headers and cookies a browser gets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

REPO = Path(__file__).resolve().parents[2]
SECURITY_SETTINGS = [
    "DEBUG",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "CSRF_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SAMESITE",
    "SECURE_SSL_REDIRECT",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "X_FRAME_OPTIONS",
    "SECURE_REFERRER_POLICY",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_CROSS_ORIGIN_OPENER_POLICY",
    "CONTENT_SECURITY_POLICY",
    "SESSION_COOKIE_AGE",
    "SESSION_IDLE_SECONDS",
]
PRODUCTION_ENV = {
    "MOBILITY_PRODUCTION": "1",
    "SECRET_KEY": "production-test-" + "k" * 50,
    "ALLOWED_HOSTS": "mobility.example.org,testserver",
}


def load_settings(env_extra: dict, tmp_path: Path) -> dict:
    """The security settings as `mobility.settings` computes them in a fresh process with this environment."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MOBILITY_", "SECURE_"))
        and k not in {"DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY"}
    }
    env.update(
        {"MOBILITY_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "mobility.settings", **env_extra}
    )
    code = (
        "import json, django\n"
        "from django.conf import settings\n"
        "django.setup()\n"
        f"print(json.dumps({{k: getattr(settings, k, None) for k in {SECURITY_SETTINGS!r}}}, default=str))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def production(tmp_path_factory) -> dict:
    return load_settings(PRODUCTION_ENV, tmp_path_factory.mktemp("prod"))


def test_production_turns_on_https_only_cookies_and_hsts(production):
    assert production["DEBUG"] is False
    assert production["SESSION_COOKIE_SECURE"] is True and production["CSRF_COOKIE_SECURE"] is True
    assert production["SESSION_COOKIE_HTTPONLY"] is True and production["CSRF_COOKIE_HTTPONLY"] is True
    assert production["SESSION_COOKIE_SAMESITE"] == "Lax" and production["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert production["SECURE_SSL_REDIRECT"] is True
    assert production["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert production["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True and production["SECURE_HSTS_PRELOAD"] is True
    # The reverse proxy tells Django the request came over HTTPS (docs/deployment.md, "Security").
    assert production["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_every_mode_denies_framing_and_sniffing_and_sends_a_strict_csp(production, tmp_path):
    laptop = load_settings({}, tmp_path)
    for mode in (production, laptop):
        assert mode["X_FRAME_OPTIONS"] == "DENY"
        assert mode["SECURE_CONTENT_TYPE_NOSNIFF"] is True
        assert mode["SECURE_REFERRER_POLICY"] == "same-origin"
        directives = mode["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]
        assert directives["script-src"] == ["'self'"] and directives["object-src"] == ["'none'"]
        assert directives["frame-ancestors"] == ["'none'"]
    # A laptop serves plain HTTP on 127.0.0.1: its cookies cannot be HTTPS-only.
    assert laptop["SESSION_COOKIE_SECURE"] is False and laptop["SECURE_HSTS_SECONDS"] == 0


def test_session_lengths_come_from_the_environment(tmp_path):
    values = load_settings(
        {**PRODUCTION_ENV, "MOBILITY_SESSION_HOURS": "8", "MOBILITY_SESSION_IDLE_MINUTES": "20"}, tmp_path
    )
    assert values["SESSION_COOKIE_AGE"] == 8 * 3600 and values["SESSION_IDLE_SECONDS"] == 20 * 60


@pytest.fixture
def production_server(settings, production):
    """The test server with the production security settings (a new Client builds its middleware from them)."""
    for name in SECURITY_SETTINGS:
        value = production[name]
        setattr(settings, name, tuple(value) if name == "SECURE_PROXY_SSL_HEADER" else value)
    settings.ALLOWED_HOSTS = ["testserver"]
    return settings


def _cookie_attributes(response, name: str) -> dict:
    morsel = response.cookies[name]
    return {
        "secure": bool(morsel["secure"]),
        "httponly": bool(morsel["httponly"]),
        "samesite": morsel["samesite"],
    }


def test_plain_http_is_sent_to_https(production_server, db):
    response = Client().get("/login/")
    assert response.status_code == 301 and response["Location"] == "https://testserver/login/"


def test_a_production_page_carries_the_security_headers(production_server, db):
    response = Client().get("/login/", secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert _cookie_attributes(response, "csrftoken") == {"secure": True, "httponly": True, "samesite": "Lax"}


def test_the_session_cookie_is_https_only_and_hidden_from_scripts(production_server, django_user_model):
    django_user_model.objects.create_user(username="amina", password="a-long-test-password")
    client = Client()
    client.get("/login/", secure=True)
    response = client.post("/login/", {"username": "amina", "password": "a-long-test-password"}, secure=True)
    assert response.status_code == 302
    assert _cookie_attributes(response, "sessionid") == {"secure": True, "httponly": True, "samesite": "Lax"}


def test_the_proxys_https_header_counts_as_https(production_server, db):
    response = Client().get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200 and "Strict-Transport-Security" in response

"""Signing in: a lockout after repeated failures, password rules, and sessions that end."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client

from mobility.core import security
from mobility.core.services import user_create

PASSWORD = "a-long-test-password"


@pytest.fixture
def amina(django_user_model):
    return django_user_model.objects.create_user(username="amina", password=PASSWORD)


def log_in(client, username="amina", password=PASSWORD, **extra):
    return client.post("/login/", {"username": username, "password": password}, **extra)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def locked_message(settings) -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return security.LOCKED_OUT.format(minutes=minutes)


# ---------------------------------------------------------------- lockout


def test_after_the_failure_limit_even_the_right_password_is_refused(client, amina, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, password="not-the-password").status_code == 200  # the form again
    response = log_in(client, password="not-the-password")
    assert response.status_code == 429
    assert locked_message(settings) in response.content.decode()
    response = log_in(client)
    assert response.status_code == 429 and not signed_in(client)


def test_failures_below_the_limit_are_forgotten_after_a_success(client, amina, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, password="not-the-password")
    assert log_in(client).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, password="not-the-password")
    assert log_in(client).status_code == 302 and signed_in(client)


def test_the_lock_is_per_username_and_address(client, amina, django_user_model, settings):
    django_user_model.objects.create_user(username="bilal", password=PASSWORD)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, password="not-the-password")
    assert log_in(client).status_code == 429
    # Another account from the same address, and the same account from another address, still sign in.
    assert log_in(Client(), username="bilal").status_code == 302
    assert log_in(Client(), REMOTE_ADDR="10.1.2.3").status_code == 302


def test_behind_the_proxy_the_lock_counts_the_address_the_proxy_saw(client, amina, settings):
    """A client cannot dodge the lock by sending its own X-Forwarded-For: the proxy's entry is the last."""
    settings.TRUST_X_FORWARDED_FOR = True
    proxy = {"REMOTE_ADDR": "127.0.0.1"}
    for n in range(settings.AXES_FAILURE_LIMIT):
        spoofed = f"198.51.100.{n}, 203.0.113.7"  # whatever the client wrote, then what nginx appended
        log_in(client, password="not-the-password", HTTP_X_FORWARDED_FOR=spoofed, **proxy)
    assert log_in(client, HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy).status_code == 429
    # Another client behind the same proxy is not locked out.
    assert log_in(Client(), HTTP_X_FORWARDED_FOR="203.0.113.8", **proxy).status_code == 302


def test_without_a_trusted_proxy_the_forwarded_header_is_ignored(client, amina, settings):
    settings.TRUST_X_FORWARDED_FOR = False
    for n in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, password="not-the-password", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
    assert log_in(client, HTTP_X_FORWARDED_FOR="198.51.100.99").status_code == 429


def test_the_lock_ends_after_the_cool_off(client, amina, settings):
    import datetime as dt

    from axes.models import AccessAttempt
    from django.db.models import F

    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, password="not-the-password")
    assert log_in(client).status_code == 429
    # The failures age past the cool-off, as if that much time had gone by.
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME - dt.timedelta(seconds=5)
    )
    assert log_in(client).status_code == 302


def test_an_administrator_can_unlock_an_account(client, amina, settings):
    from django.core.management import call_command

    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, password="not-the-password")
    assert log_in(client).status_code == 429
    call_command("axes_reset_username", "amina", verbosity=0)
    assert log_in(client).status_code == 302


def test_basic_auth_on_the_phone_endpoints_counts_towards_the_same_lock(client, amina, operation, settings):
    """A password guessed through ODK Collect's Basic sign-in is locked out like one on the login page."""
    settings.OPENROSA_ALLOW_BASIC_HTTP = True
    wrong = "Basic " + base64.b64encode(b"amina:not-the-password").decode()
    right = "Basic " + base64.b64encode(f"amina:{PASSWORD}".encode()).decode()
    url = f"/collect/{operation.slug}/formList"
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.get(url, HTTP_AUTHORIZATION=wrong).status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION=wrong).status_code == 429
    response = client.get(url, HTTP_AUTHORIZATION=right)
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/plain") and "locked" in response.content.decode()
    assert log_in(client).status_code == 429  # and the web login of the same account from here


# ---------------------------------------------------------------- password rules


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short-pass1", "too short"),  # 11 characters
        ("password1234", "too common"),
        ("839201746512", "entirely numeric"),
        ("amina.mussa.1990", "too similar"),
    ],
)
def test_weak_passwords_are_refused(django_user_model, password, why):
    user = django_user_model(
        username="amina.mussa", first_name="Amina", last_name="Mussa", email="amina@example.org"
    )
    with pytest.raises(ValidationError) as err:
        validate_password(password, user)
    assert why in " ".join(err.value.messages)


def test_a_twelve_character_passphrase_is_accepted(db):
    user = user_create(username="amina", password="rain-on-tete")
    assert user.check_password("rain-on-tete")


def test_weak_passwords_are_refused_where_accounts_are_made(db):
    """The rules apply wherever a password is set: the service the CLI and the admin use refuses too."""
    with pytest.raises(ValidationError):
        user_create(username="amina", password="short")


# ---------------------------------------------------------------- session expiry


@pytest.fixture
def clock(monkeypatch):
    """A settable time.time() for the session middleware."""

    class Clock:
        now = 1_800_000_000.0

    monkeypatch.setattr(security.time, "time", lambda: Clock.now)
    return Clock


def test_a_session_ends_after_the_idle_limit(client, amina, clock, settings):
    assert log_in(client).status_code == 302
    assert client.get("/imports/").status_code == 200
    clock.now += settings.SESSION_IDLE_SECONDS - 60
    assert client.get("/imports/").status_code == 200  # activity keeps it alive
    clock.now += settings.SESSION_IDLE_SECONDS - 60
    assert client.get("/imports/").status_code == 200
    clock.now += settings.SESSION_IDLE_SECONDS + 1
    response = client.get("/imports/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/login/")
    minutes = settings.SESSION_IDLE_SECONDS // 60
    assert security.SESSION_IDLE_EXPIRED.format(minutes=minutes) in response.content.decode()
    assert not signed_in(client)


def test_a_session_ends_after_the_absolute_limit_even_when_busy(client, amina, clock, settings):
    assert log_in(client).status_code == 302
    step = settings.SESSION_IDLE_SECONDS // 2
    for _ in range(settings.SESSION_COOKIE_AGE // step - 1):
        clock.now += step
        assert client.get("/imports/").status_code == 200
    clock.now += 2 * step
    response = client.get("/imports/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/login/")
    hours = settings.SESSION_COOKIE_AGE // 3600
    assert security.SESSION_ABSOLUTE_EXPIRED.format(hours=hours) in response.content.decode()


def test_a_new_sign_in_starts_a_new_session_clock(client, amina, clock, settings):
    assert log_in(client).status_code == 302
    clock.now += settings.SESSION_COOKIE_AGE + 1
    client.get("/imports/")
    assert not signed_in(client)
    assert log_in(client).status_code == 302
    assert client.get("/imports/").status_code == 200 and signed_in(client)


def test_an_expired_session_cannot_use_the_api_either(client, amina, clock, settings):
    assert log_in(client).status_code == 302
    assert client.get("/api/v1/imports").status_code == 200
    clock.now += settings.SESSION_IDLE_SECONDS + 1
    assert client.get("/api/v1/imports").status_code == 401

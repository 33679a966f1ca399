"""Grants from the command line, the access log (page, CSV, command), and error reports without values."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import sys

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, reverse

from mobility.core.models import AuditEntry
from mobility.registration import access, crypto, protection
from mobility.registration.logging import (
    HIDDEN,
    PersonalDataExceptionReporter,
    PersonalDataLogFilter,
)
from mobility.registration.models import AccessLog, Purpose, RegistrationGrant

MARKER = "ZQXMARKER-report"


# --- grants ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_grant_command_adds_and_revokes_capabilities(operation, admin_user, data_manager):
    out = io.StringIO()
    call_command(
        "registration", "grant", "--operation", operation.slug, "--user", "imo",
        "--capability", "view", "--capability", "register", "--by", "root", stdout=out,
    )  # fmt: skip
    assert "imo in " + operation.slug + ": register, view" in out.getvalue()
    assert access.personal_can(data_manager, operation, "view")
    call_command(
        "registration", "grant", "--operation", operation.slug, "--user", "imo",
        "--capability", "erase", "--by", "root", "--expires", "2099-12-31", stdout=out,
    )  # fmt: skip
    grant = RegistrationGrant.objects.get(user=data_manager)
    assert grant.capabilities == ["erase", "register", "view"] and grant.expires_at.year == 2100
    call_command(
        "registration", "grant", "--operation", operation.slug, "--user", "imo",
        "--capability", "register", "--revoke", "--by", "root", stdout=out,
    )  # fmt: skip
    assert RegistrationGrant.objects.get(user=data_manager).capabilities == ["erase", "view"]
    call_command(
        "registration", "grant", "--operation", operation.slug, "--user", "imo", "--revoke", "--by", "root",
        stdout=out,
    )  # fmt: skip
    assert out.getvalue().strip().endswith("none (revoked)")
    data_manager = type(data_manager).objects.get(pk=data_manager.pk)
    assert not access.personal_can(data_manager, operation, "view")
    assert AuditEntry.objects.filter(action="registration.grant").count() == 3
    assert AuditEntry.objects.filter(action="registration.revoke").count() == 1


@pytest.mark.django_db
def test_grant_command_refusals(operation, admin_user, data_manager, viewer, outsider):
    def grant(*args):
        call_command("registration", "grant", "--operation", operation.slug, *args, stdout=io.StringIO())

    with pytest.raises(CommandError, match="Only an admin of the operation"):
        grant("--user", "reader", "--capability", "view", "--by", "imo")
    with pytest.raises(CommandError, match="members of the operation only"):
        grant("--user", "outsider", "--capability", "view", "--by", "root")
    with pytest.raises(CommandError, match='No user "ghost"'):
        grant("--user", "ghost", "--capability", "view", "--by", "root")
    with pytest.raises(CommandError, match="at least one --capability"):
        grant("--user", "reader", "--by", "root")
    with pytest.raises(CommandError):
        grant("--user", "reader", "--capability", "everything", "--by", "root")
    assert not RegistrationGrant.objects.exists()


# --- the access log ----------------------------------------------------------------------------


@pytest.fixture
def logged(operation, admin_user, data_manager, viewer):
    access.grant_set(operation=operation, user=data_manager, capabilities=["view", "export"], by=admin_user)
    access.log_access(
        user=data_manager,
        operation=operation,
        action=AccessLog.Action.VIEW,
        purpose=Purpose.REGISTRATION,
        object_type="registration.household",
        object_ids=[4107],
    )
    access.log_access(
        user=data_manager,
        operation=operation,
        action=AccessLog.Action.EXPORT,
        purpose=Purpose.EXPORT,
        object_type="registration.individual",
        object_ids=[7, 8, 9],
    )
    with pytest.raises(access.PermissionDenied):
        access.require(viewer, operation, "view")
    old = AccessLog.objects.create(
        user=viewer,
        operation=operation,
        action=AccessLog.Action.VIEW,
        purpose=Purpose.VERIFICATION,
        object_type="registration.household",
        object_id="5",
    )
    AccessLog.objects.filter(pk=old.pk).update(at=dt.datetime(2025, 1, 2, 10, tzinfo=dt.UTC))
    return operation


@pytest.mark.django_db
def test_access_log_page_lists_and_filters_entries_for_admins(client, logged, admin_user):
    url = reverse("registration:protect_access_log", args=[logged.slug])
    client.force_login(admin_user)
    page = client.get(url)
    assert page.status_code == 200
    assert "no-cache" in page["Cache-Control"]

    def table(params=None) -> str:
        text = client.get(url, params or {}).content.decode()
        return text.split('id="access-log"')[1].split("</table>")[0] if 'id="access-log"' in text else ""

    everything = table()
    assert everything.count("<tr") == 5  # the header and 4 entries
    assert "7, 8, 9" in everything and ">Denied<" in everything and "imo" in everything
    only_exports = table({"action": "export"})
    assert (
        "7, 8, 9" in only_exports
        and "registration.household" not in only_exports
        and "Denied" not in only_exports
    )
    by_record = table({"object_id": "8"})
    assert "7, 8, 9" in by_record and "registration.household" not in by_record
    assert "4107" in table({"object_id": "4107"})
    by_user = table({"user": "reader"})
    assert "Denied" in by_user and "7, 8, 9" not in by_user
    old_only = table({"date_to": "2025-12-31"})
    assert "Verification" in old_only and "Denied" not in old_only
    bad = client.get(url, {"date_from": "yesterday"})
    assert bad.status_code == 200 and "date_from" in bad.content.decode()


@pytest.mark.django_db
def test_access_log_csv_download(client, logged, admin_user):
    client.force_login(admin_user)
    response = client.get(
        reverse("registration:protect_access_log", args=[logged.slug]), {"format": "csv", "purpose": "export"}
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == protection.ACCESS_LOG_COLUMNS
    assert len(rows) == 2 and rows[1][1:4] == ["imo", "export", "export"] and rows[1][-1] == "7 8 9"


@pytest.mark.django_db
def test_access_log_page_is_for_admins_of_the_operation_only(client, logged, data_manager, outsider):
    url = reverse("registration:protect_access_log", args=[logged.slug])
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(data_manager)  # granted view and export, but not an admin
    assert client.get(url).status_code == 403
    client.force_login(outsider)
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_access_log_command(logged, tmp_path):
    out = io.StringIO()
    call_command("registration", "access-log", "--operation", logged.slug, stdout=out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == protection.ACCESS_LOG_COLUMNS and len(rows) == 5
    assert [r[2] for r in rows[1:]] == ["denied", "export", "view", "view"]
    out = io.StringIO()
    call_command(
        "registration", "access-log", "--operation", logged.slug, "--user", "reader", "--from", "2026-01-01",
        stdout=out,
    )  # fmt: skip
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert [r[2] for r in rows[1:]] == ["denied"]
    target = tmp_path / "log.csv"
    call_command(
        "registration", "access-log", "--operation", logged.slug, "--object-id", "4107", "-o", str(target),
        stdout=io.StringIO(),
    )  # fmt: skip
    rows = list(csv.reader(target.open()))
    assert len(rows) == 2 and rows[1][5] == "4107"
    with pytest.raises(CommandError, match="is not a date"):
        call_command("registration", "access-log", "--operation", logged.slug, "--from", "soon")


# --- views: decorated, not cached ---------------------------------------------------------------


def _patterns(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _patterns(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.callback


def test_every_registration_view_keeps_personal_data_out_of_error_reports():
    from mobility.registration import urls

    found = list(_patterns(urls.urlpatterns))
    assert found, "no registration page"
    undecorated = [route for route, view in found if not getattr(view, "personal_data", False)]
    assert not undecorated


def test_the_decorator_hides_post_data_and_locals_and_stops_caching(rf=None):
    from django.http import HttpResponse

    @protection.personal_data_view
    def view(request):
        secret = request.POST.get("given_name")
        assert secret
        return HttpResponse("ok")

    request = RequestFactory().post("/registration/x/", {"given_name": MARKER})
    response = view(request)
    assert request.sensitive_post_parameters == "__ALL__"
    assert "no-cache" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert protection.personal_data_view(view) is view  # applied once


# --- error reports and logs -------------------------------------------------------------------


def _report(request, raise_in_registration: bool):
    try:
        if raise_in_registration:
            crypto.EncryptedJSONField()._dump({MARKER})  # a set: not JSON, raised in registration code
        else:
            secret = MARKER  # noqa: F841 (a local the report would show)
            raise ValueError(f"cannot parse {MARKER}")
    except Exception:
        reporter = PersonalDataExceptionReporter(request, *sys.exc_info())
        return reporter.get_traceback_text() + reporter.get_traceback_html()


@pytest.mark.django_db
def test_error_reports_about_registration_show_no_values(settings):
    rf = RequestFactory()
    post = rf.post("/registration/moz/households/new/?q=" + MARKER, {"given_name": MARKER})
    text = _report(post, raise_in_registration=False)
    assert MARKER not in text and HIDDEN in text
    assert "given_name" in text  # the names of fields stay, for debugging
    settings.DEBUG = True  # even the DEBUG page hides them
    assert MARKER not in _report(post, raise_in_registration=False)
    # any request, if the error went through registration code
    assert MARKER not in _report(rf.get("/flows/"), raise_in_registration=True)
    # elsewhere Django's report is unchanged (the filter is targeted)
    settings.DEBUG = False
    assert f"cannot parse {MARKER}" in _report(rf.get("/flows/"), raise_in_registration=False)


@pytest.mark.django_db
def test_error_mail_of_a_registration_page_has_no_values(client, settings, logged, admin_user, monkeypatch):
    settings.ADMINS = [("Ops", "ops@example.org")]
    from mobility.registration import views_protection

    def broken(**kwargs):
        crypto.EncryptedJSONField()._dump({MARKER})

    monkeypatch.setattr(views_protection, "access_log_rows", broken)
    client.raise_request_exception = False
    client.force_login(admin_user)
    response = client.post(
        reverse("registration:protect_access_log", args=[logged.slug]) + "?user=" + MARKER,
        {"given_name": MARKER},
    )
    assert response.status_code in (405, 500)
    response = client.get(reverse("registration:protect_access_log", args=[logged.slug]), {"user": MARKER})
    assert response.status_code == 500
    assert MARKER not in response.content.decode()
    assert mail.outbox, "no error mail was sent"
    for message in mail.outbox:
        assert MARKER not in message.subject + message.body
        for alternative, _ in getattr(message, "alternatives", []):
            assert MARKER not in alternative


def test_log_filter_drops_exception_messages_and_query_strings():
    handler_out = io.StringIO()
    handler = logging.StreamHandler(handler_out)
    handler.addFilter(PersonalDataLogFilter())
    logger = logging.getLogger("tests.protect.filter")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning('"GET /registration/moz/search/?q=%s HTTP/1.1" 200', MARKER)
        try:
            crypto.EncryptedJSONField()._dump({MARKER})
        except TypeError:
            logger.exception("import job %s failed", 12)
        try:
            raise ValueError(MARKER)
        except ValueError:
            logger.exception("elsewhere")
    finally:
        logger.removeHandler(handler)
    text = handler_out.getvalue()
    assert "/registration/moz/search/?[query hidden]" in text
    assert "import job 12 failed" in text and "TypeError: " + HIDDEN in text and "crypto.py" in text
    assert text.count(MARKER) == 1 and f"ValueError: {MARKER}" in text  # only outside registration

"""Who may read and write what: every address × every role × every method, checked against the rules.

The rules (DESIGN.md, "Roles per operation"), not what the code happens to do:
- anonymous users see only published, disclosure-checked aggregates;
- a viewer reads its operation; an enumerator also submits; a data manager also imports and
  publishes; an admin also manages; a superuser is an admin everywhere;
- members of another operation get a 404 or a 403 on this operation's objects, and an object id
  of one operation put under the other's slug is not found (ids are not guessable across);
- personal data (registration) needs a registration grant for its purpose, even for admins and
  superusers; personal fields of submissions and row errors (they quote cells) are for those who
  may import into the operation.

``ROWS`` is the table. ``test_every_address_is_in_the_table`` walks the URL resolver (pages, the
admin, OpenRosa, the Central-compatible /v1, the ninja APIs with each method) and fails on an
address that has no row, so a new endpoint must be added here. Besides the status, every answer
is searched for planted markers (``world.MARKERS``) that the role may not read, and some rows
name markers the allowed roles must find (so a marker that cannot be seen cannot pass silently).

Figure: ``pytest tests/trust/test_access_matrix.py -q -s`` prints the number of cells checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from mobility.core.models import AuditEntry, ImportJob

from .world import MARKER_KINDS, MARKERS, PASSWORD, ROLES, build_world, instance

pytestmark = pytest.mark.django_db

OK, NO = "ok", "no"
EVERYONE = frozenset(ROLES)
LOGGED_IN = EVERYONE - {"anonymous"}
MEMBER_A = frozenset({"viewer", "enumerator", "data_manager", "admin", "granted", "superuser"})
SUBMIT_A = frozenset({"enumerator", "data_manager", "admin", "superuser"})
IMPORT_A = frozenset({"data_manager", "admin", "superuser"})  # import and publish
MANAGE_A = frozenset({"admin", "superuser"})
IMPORT_ANYWHERE = IMPORT_A | {"outsider"}  # the outsider is an admin of operation B
GRANT_A = frozenset({"granted"})  # a registration grant in A; superusers hold none
NOBODY = frozenset()


@dataclass
class Row:
    """One address and method; ``allowed`` are the roles for which it must not be refused."""

    name: str  # what the row is, for the failure table
    url: Callable
    allowed: frozenset[str]
    method: str = "get"
    data: Callable | None = None  # (world, role) -> form data or a JSON-able body
    json: bool = False
    auth: str = "session"  # session | token (ninja API) | central (bearer of a /v1/sessions token)
    headers: dict = field(default_factory=dict)
    shows: tuple[str, ...] = ()  # marker kinds an allowed role that may read them must find
    probe: Callable | None = None  # (world) -> value a refused write must leave unchanged
    expect_status: int | None = None  # when the rule is a precise status for every role


def r(name, url, allowed, **kw) -> Row:
    return Row(name, url, frozenset(allowed), **kw)


def rev(name, *args):
    return lambda w: reverse(name, args=[a(w) if callable(a) else a for a in args])


A = lambda w: w.a.slug  # noqa: E731
B = lambda w: w.b.slug  # noqa: E731


def _csv_upload(w, role):
    return {
        "file": SimpleUploadedFile("baseline.csv", b"admin1_name,idp_individuals\nCabo Delgado,10\n"),
        "kind": "tracking.template",
        "operation": str(w.a.pk),
        "round": "1",
    }


def _xlsform_upload(w, role):
    from .world import _xlsform

    return {"file": SimpleUploadedFile("visit_new.xlsx", _xlsform("visit_new")), "operation": str(w.a.pk)}


def _openrosa_submission(form_id):
    def data(w, role):
        xml = instance(form_id, f"uuid:matrix-{role}", people=2)
        return {"xml_submission_file": SimpleUploadedFile("submission.xml", xml, "text/xml")}

    return data


def _a_jobs(w):
    return ImportJob.objects.filter(operation=w.a).count()


def _a_forms(w):
    from mobility.collection.models import Form

    return Form.objects.filter(operation=w.a).count()


OPENROSA = {"X-OpenRosa-Version": "1.0"}

# --- pages -----------------------------------------------------------------------------------------
PAGES = [
    r("home", rev("home"), EVERYONE),
    r("login page", rev("login"), EVERYONE),
    r("log out", rev("logout"), EVERYONE, method="post"),
    r("set language", rev("set_language"), EVERYONE, method="post", data=lambda w, role: {"language": "en"}),
    r("operations", rev("core:operations"), EVERYONE),
    r("operation A", rev("core:operation_detail", A), EVERYONE, shows=("a_unpublished",)),
    r("operation B", rev("core:operation_detail", B), EVERYONE),
    r("round advance", rev("core:operation_round_advance", A, lambda w: w.track_a.draft.pk), IMPORT_A,
      method="post", data=lambda w, role: {"to": "collecting"}),
    r("round correct", rev("core:operation_round_correct", A, lambda w: w.track_a.published.pk), IMPORT_A,
      method="post", data=lambda w, role: {"reason": "a wrong figure"}),
    r("imports", rev("core:imports"), LOGGED_IN),
    r("import upload", rev("core:imports"), IMPORT_A, method="post", data=_csv_upload, probe=_a_jobs),
    r("import of A", rev("core:import_detail", lambda w: w.job_a.pk), MEMBER_A, shows=("a_row_error",)),
    r("import progress of A", rev("core:import_progress", lambda w: w.job_a.pk), MEMBER_A, shows=("a_row_error",)),
    r("import rerun of A", rev("core:import_rerun", lambda w: w.job_a.pk), IMPORT_A, method="post"),
    # gazetteer: shared reference data, public; resolving a name is the operation's import right
    r("gazetteer", rev("gazetteer:index"), EVERYONE),
    r("gazetteer search", lambda w: reverse("gazetteer:search") + "?q=Ancuabe", EVERYONE),
    r("gazetteer suggest", lambda w: reverse("gazetteer:suggest") + "?q=Anc&country=MOZ", EVERYONE),
    r("gazetteer country", rev("gazetteer:country", "MOZ"), EVERYONE),
    r("gazetteer versions", rev("gazetteer:versions", "MOZ"), EVERYONE),
    r("gazetteer version", rev("gazetteer:version_detail", "MOZ", lambda w: w.gazetteer.pk), EVERYONE),
    r("gazetteer area", rev("gazetteer:area", "MOZ", "MZ0101"), EVERYONE),
    r("review list", rev("gazetteer:reviews"), LOGGED_IN),
    r("review resolve", rev("gazetteer:review_resolve", lambda w: w.review_a.pk), IMPORT_A, method="post",
      data=lambda w, role: {"pcode": "MZ0101"}),
    r("review dismiss", rev("gazetteer:review_dismiss", lambda w: w.review_a.pk), IMPORT_A, method="post"),
    # tracking: published rounds for everyone, drafts for members; events, alerts and sites for members
    r("tracking", rev("tracking:index"), EVERYONE),
    r("dashboard A", rev("tracking:dashboard", A), EVERYONE),
    r("dashboard B", rev("tracking:dashboard", B), EVERYONE),
    r("map data A", rev("tracking:map_data", A), EVERYONE),
    r("trend data A", rev("tracking:trend_data", A), EVERYONE),
    r("compare A", rev("tracking:compare", A), EVERYONE),
    r("compare data A", rev("tracking:compare_data", A), EVERYONE),
    r("area A", rev("tracking:area", A, "MZ0101"), EVERYONE),
    r("profiles", rev("tracking:profiles"), LOGGED_IN),
    r("profile new", rev("tracking:profile_new"), IMPORT_ANYWHERE),
    r("profile new upload", rev("tracking:profile_new"), IMPORT_ANYWHERE, method="post"),
    r("profile", rev("tracking:profile_detail", "trust-profile-a"), LOGGED_IN),
    r("profile import", rev("tracking:profile_import", "trust-profile-a"), IMPORT_ANYWHERE),
    r("profile import upload", rev("tracking:profile_import", "trust-profile-a"), IMPORT_A, method="post",
      data=_csv_upload, probe=_a_jobs),
    r("tracking template", rev("tracking:template"), EVERYONE),
    r("tracking template columns", rev("tracking:template_columns"), EVERYONE),
    r("events A", rev("tracking:events", A), MEMBER_A),
    r("event A", rev("tracking:event_detail", A, "ETT-A"), MEMBER_A),
    r("alerts A", rev("tracking:alerts", A), MEMBER_A),
    r("alert acknowledge", rev("tracking:alert_acknowledge", A, lambda w: w.events_a.alert.pk), IMPORT_A,
      method="post"),
    r("alert rules A", rev("tracking:alert_rules", A), MEMBER_A),
    r("alert rule add", rev("tracking:alert_rules", A), MANAGE_A, method="post",
      data=lambda w, role: {"min_individuals": "500"}),
    r("alert rule delete", rev("tracking:alert_rule_delete", A, lambda w: w.events_a.rule.pk), MANAGE_A,
      method="post"),
    r("ETT since last round", rev("tracking:ett_since_last_round", A), MEMBER_A),
    r("sites A", rev("tracking:sites", A), MEMBER_A),
    r("site A", rev("tracking:site_detail", A, "SITE-A"), MEMBER_A),
    # publishing
    r("releases A", rev("publishing:releases", A), EVERYONE),
    r("publish page", rev("publishing:round_publish", A, lambda w: w.track_a.draft.pk), IMPORT_A),
    r("publish", rev("publishing:round_publish", A, lambda w: w.track_a.draft.pk), IMPORT_A, method="post",
      data=lambda w, role: {"confirm": "1"}),
    r("release current", rev("publishing:release", lambda w: w.track_a.release.pk), EVERYONE),
    r("release withdrawn", rev("publishing:release", lambda w: w.track_a.withdrawn.pk), MEMBER_A),
    r("release download", rev("publishing:download", lambda w: w.track_a.release.pk, "csv"), EVERYONE),
    r("withdrawn download", rev("publishing:download", lambda w: w.track_a.withdrawn.pk, "csv"), MEMBER_A,
      shows=("a_unpublished",)),
    # flows: published periods for everyone, every day for members; nothing published = not found
    r("flows", rev("flows:index"), EVERYONE),
    r("flows A", rev("flows:operation", A), EVERYONE),
    r("flows B (nothing published)", rev("flows:operation", B), frozenset({"outsider", "superuser"})),
    r("flows od A", rev("flows:od", A), EVERYONE),
    r("flow point A", rev("flows:point", A, "FMP-A"), EVERYONE),
    r("flow corridor A", rev("flows:corridor", A, "corridor-a"), EVERYONE),
    # restrictions
    r("restrictions", rev("restrictions:index"), EVERYONE),
    r("travel index", rev("restrictions:travel_index"), EVERYONE),
    r("points A", rev("restrictions:points", A), EVERYONE),
    r("point statuses A", rev("restrictions:points_statuses", A), EVERYONE),
    r("point A (published)", rev("restrictions:point", A, "POE-A"), EVERYONE),
    r("point A (drafts only)", rev("restrictions:point", A, "POE-A-DRAFT"), MEMBER_A, shows=("a_unpublished",)),
    r("travel A", rev("restrictions:travel", A), EVERYONE),
    # registration: figures for members, personal pages for grant holders only
    r("registration", rev("registration:index"), LOGGED_IN),
    r("registration A", rev("registration:home", A), MEMBER_A),
    r("households", rev("registration:households", A), GRANT_A, shows=("registration_personal",)),
    r("households search", rev("registration:households", A), GRANT_A, method="post",
      data=lambda w, role: {"q": "HH-A-1"}),
    r("household new", rev("registration:household_new", A), GRANT_A),
    r("household register", rev("registration:household_new", A), GRANT_A, method="post",
      data=lambda w, role: {"form-TOTAL_FORMS": "0", "form-INITIAL_FORMS": "0"}),
    r("household", rev("registration:household", A, "HH-A-1"), GRANT_A, shows=("registration_personal",)),
    r("household edit", rev("registration:household_edit", A, "HH-A-1"), GRANT_A, shows=("registration_personal",)),
    r("household save", rev("registration:household_edit", A, "HH-A-1"), GRANT_A, method="post",
      data=lambda w, role: {"form-TOTAL_FORMS": "0", "form-INITIAL_FORMS": "0"}),
    r("review queue", rev("registration:review", A), GRANT_A, shows=("registration_personal",)),
    r("pair decide", rev("registration:pair_decide", A, lambda w: w.reg_a.pair.pk), GRANT_A, method="post",
      data=lambda w, role: {"decision": "not_duplicate"}),
    r("merge undo", rev("registration:merge_undo", A, lambda w: w.reg_a.merge.pk), GRANT_A, method="post"),
    r("distribute page", rev("registration:household_distribute", A, "HH-A-1"), GRANT_A),
    r("distribute", rev("registration:household_distribute", A, "HH-A-1"), GRANT_A, method="post"),
    r("verification rounds", rev("registration:verification_rounds", A), GRANT_A),
    r("verification open", rev("registration:verification_rounds", A), GRANT_A, method="post",
      data=lambda w, role: {"name": "Second visit", "started_on": "2026-06-01", "area_pcode": "MZ0102"}),
    r("verification round", rev("registration:verification_round", A, lambda w: w.reg_a.vround.pk), GRANT_A),
    r("verification mark", rev("registration:verification_mark", A, lambda w: w.reg_a.vround.pk, "HH-A-1"),
      GRANT_A, method="post", data=lambda w, role: {"outcome": "present"}),
    r("verification close", rev("registration:verification_close", A, lambda w: w.reg_a.vround.pk), GRANT_A,
      method="post"),
    r("assistance A", rev("registration:distributions", A), MEMBER_A),
    r("assistance publish", rev("registration:assistance_publish", A), IMPORT_A, method="post",
      data=lambda w, role: {"period": "2026-05"}),
    r("access log", rev("registration:protect_access_log", A), MANAGE_A),
    r("registration template", rev("registration:import_template"), LOGGED_IN),
    # collection pages: members read; data managers change; personal fields for data managers
    r("forms", rev("collection:forms"), LOGGED_IN),
    r("form upload", rev("collection:forms"), IMPORT_A, method="post", data=_xlsform_upload, probe=_a_forms),
    r("attention", rev("collection:attention"), IMPORT_ANYWHERE),
    r("submission", rev("collection:submission", lambda w: w.col_a.submission.pk), MEMBER_A,
      shows=("a_submission_personal",)),
    r("submission correct", rev("collection:submission_correct", lambda w: w.col_a.submission.pk), IMPORT_A,
      method="post"),
    r("submission reprocess", rev("collection:submission_reprocess", lambda w: w.col_a.submission.pk), IMPORT_A,
      method="post"),
    r("attachment", rev("collection:attachment", lambda w: w.col_a.submission.pk, lambda w: w.col_a.attachment.pk),
      IMPORT_A),
    r("conflict resolve",
      rev("collection:conflict_resolve", lambda w: w.col_a.submission.pk, lambda w: w.col_a.conflict.pk),
      IMPORT_A, method="post", data=lambda w, role: {"resolution": "keep"}),
    r("form", rev("collection:form", lambda w: w.col_a.form.pk), MEMBER_A),
    r("form state", rev("collection:form_state", lambda w: w.col_a.form.pk), IMPORT_A, method="post",
      data=lambda w, role: {"state": "closing"}),
    r("form media", rev("collection:media_upload", lambda w: w.col_a.form.pk), IMPORT_A, method="post"),
    r("form binding", rev("collection:binding", lambda w: w.col_a.form.pk), IMPORT_A, method="post"),
    r("form xlsform", rev("collection:version_xlsform", lambda w: w.col_a.form.pk, lambda w: w.col_a.version.pk),
      MEMBER_A),
    r("form xml", rev("collection:version_xml", lambda w: w.col_a.form.pk, lambda w: w.col_a.version.pk),
      MEMBER_A),
    r("form media file",
      rev("collection:media_download", lambda w: w.col_a.form.pk, lambda w: w.col_a.version.pk,
          lambda w: w.col_a.media.pk), MEMBER_A),
    r("submissions", rev("collection:submissions", lambda w: w.col_a.form.pk), MEMBER_A),
    r("submissions geojson", rev("collection:submissions_geojson", lambda w: w.col_a.form.pk), MEMBER_A),
    r("submissions export", rev("collection:submissions_export", lambda w: w.col_a.form.pk), MEMBER_A,
      shows=("a_submission_personal",)),
]  # fmt: skip

# --- phones: OpenRosa (Digest/Basic or a session) and the ODK Central-compatible /v1 ---------------
PHONES = [
    r("formList", rev("openrosa:form-list", A), SUBMIT_A),
    r("submission", rev("openrosa:submission", A), SUBMIT_A, method="post", headers=OPENROSA,
      data=_openrosa_submission("visit_a")),
    r("form.xml", rev("openrosa:form-xml", A, "visit_a"), SUBMIT_A),
    r("manifest", rev("openrosa:manifest", A, "visit_a"), SUBMIT_A),
    r("media", rev("openrosa:media", A, "visit_a", lambda w: w.col_a.media.pk, "logo.png"), SUBMIT_A),
    r("central sessions", rev("central-sessions"), LOGGED_IN, method="post", json=True,
      data=lambda w, role: {"email": role, "password": PASSWORD}),
    r("central session end", lambda w: reverse("central-session", args=[w.central_tokens["data_manager"]]),
      {"data_manager"}, method="delete", auth="central"),
    r("central user", rev("central-user-current"), LOGGED_IN, auth="central"),
    r("central projects", rev("central-projects"), LOGGED_IN, auth="central"),
    r("central project A", rev("central-project", lambda w: w.a.pk), MEMBER_A, auth="central"),
    r("central forms A", rev("central-forms", lambda w: w.a.pk), MEMBER_A, auth="central"),
    r("central form A", rev("central-form", lambda w: w.a.pk, "visit_a"), MEMBER_A, auth="central"),
    r("central form xml A", lambda w: f"/v1/projects/{w.a.pk}/forms/visit_a.xml", MEMBER_A, auth="central"),
    r("central odata A", lambda w: f"/v1/projects/{w.a.pk}/forms/visit_a.svc/Submissions", MEMBER_A,
      auth="central"),
]  # fmt: skip

# --- the ninja APIs: bearer tokens (anonymous: none) -------------------------------------------------
V1 = "/api/v1"
API = [
    r("openapi", lambda w: f"{V1}/openapi.json", EVERYONE, auth="token"),
    r("api docs", lambda w: f"{V1}/docs", EVERYONE, auth="token"),
    r("api root", lambda w: f"{V1}/", NOBODY, auth="token", expect_status=404),
    *[r(f"metadata {p}", lambda w, p=p: f"{V1}/metadata/{p}", EVERYONE, auth="token")
      for p in ("location", "admin1", "admin2", "admin3")],
    r("areas", lambda w: f"{V1}/gazetteer/areas?location_code=MOZ", EVERYONE, auth="token"),
    r("area", lambda w: f"{V1}/gazetteer/areas/MOZ/MZ0101", EVERYONE, auth="token"),
    r("boundaries", lambda w: f"{V1}/gazetteer/boundaries?location_code=MOZ&admin_level=1", EVERYONE,
      auth="token"),
    r("versions", lambda w: f"{V1}/gazetteer/versions", EVERYONE, auth="token"),
    r("version changes", lambda w: f"{V1}/gazetteer/versions/{w.gazetteer.pk}/changes", EVERYONE, auth="token"),
    r("idps", lambda w: f"{V1}/affected-people/idps", EVERYONE, auth="token"),
    r("returnees", lambda w: f"{V1}/affected-people/returnees", EVERYONE, auth="token"),
    r("flow points", lambda w: f"{V1}/flows/points", EVERYONE, auth="token"),
    r("flow daily", lambda w: f"{V1}/flows/daily", EVERYONE, auth="token", shows=("a_unpublished",)),
    r("flow breakdowns", lambda w: f"{V1}/flows/breakdowns", EVERYONE, auth="token"),
    r("flow estimates", lambda w: f"{V1}/flows/estimates", EVERYONE, auth="token"),
    r("points of entry", lambda w: f"{V1}/restrictions/points-of-entry?date=2026-03-01", EVERYONE, auth="token",
      shows=("a_unpublished",)),
    r("status changes", lambda w: f"{V1}/restrictions/status-changes", EVERYONE, auth="token",
      shows=("a_unpublished",)),
    r("travel", lambda w: f"{V1}/restrictions/travel?date=2026-03-01", EVERYONE, auth="token"),
    r("assistance figures", lambda w: f"{V1}/registration/assistance", EVERYONE, auth="token"),
    r("registry counts", lambda w: f"{V1}/registration/counts", EVERYONE, auth="token"),
    r("api operations", lambda w: f"{V1}/operations", EVERYONE, auth="token"),
    r("api operation A", lambda w: f"{V1}/operations/{w.a.slug}", EVERYONE, auth="token"),
    r("api rounds A", lambda w: f"{V1}/operations/{w.a.slug}/rounds", EVERYONE, auth="token",
      shows=("a_unpublished",)),
    r("api round create", lambda w: f"{V1}/operations/{w.a.slug}/rounds", IMPORT_A, auth="token", method="post",
      json=True, data=lambda w, role: {"reporting_round": 9, "reference_period_start": "2026-09-01",
                                       "reference_period_end": "2026-09-30"}),
    r("api round advance", lambda w: f"{V1}/rounds/{w.track_a.draft.pk}/advance", IMPORT_A, auth="token",
      method="post", json=True, data=lambda w, role: {"to": "collecting"}),
    r("api round correct", lambda w: f"{V1}/rounds/{w.track_a.published.pk}/correct", IMPORT_A, auth="token",
      method="post", json=True, data=lambda w, role: {"reason": "a wrong figure"}),
    r("api imports", lambda w: f"{V1}/imports", LOGGED_IN, auth="token"),
    r("api import A", lambda w: f"{V1}/imports/{w.job_a.pk}", MEMBER_A, auth="token", shows=("a_row_error",)),
    r("api import upload", lambda w: f"{V1}/imports", IMPORT_A, auth="token", method="post",
      data=lambda w, role: {**_csv_upload(w, role), "operation": w.a.slug}),
    r("dtm openapi", lambda w: "/api/dtm/v3/openapi.json", EVERYONE, auth="token"),
    r("dtm docs", lambda w: "/api/dtm/v3/docs", EVERYONE, auth="token"),
    r("dtm root", lambda w: "/api/dtm/v3/", NOBODY, auth="token", expect_status=404),
    *[r(f"dtm admin{n}", lambda w, n=n: f"/api/dtm/v3/displacement/admin{n}?Admin0Pcode=MOZ", EVERYONE,
        auth="token") for n in (0, 1, 2)],
    r("dtm countries", lambda w: "/api/dtm/v3/displacement/country-list", EVERYONE, auth="token"),
    r("dtm operations", lambda w: "/api/dtm/v3/displacement/operation-list", EVERYONE, auth="token"),
]  # fmt: skip

# --- ids of one operation under the other's slug: not found for everyone, superusers included ------
CROSS = [
    r("A round under B", rev("core:operation_round_advance", B, lambda w: w.track_a.draft.pk), NOBODY,
      method="post", data=lambda w, role: {"to": "collecting"}),
    r("A round correct under B", rev("core:operation_round_correct", B, lambda w: w.track_a.published.pk), NOBODY,
      method="post", data=lambda w, role: {"reason": "a wrong figure"}),
    r("A event under B", rev("tracking:event_detail", B, "ETT-A"), NOBODY),
    r("A alert under B", rev("tracking:alert_acknowledge", B, lambda w: w.events_a.alert.pk), NOBODY, method="post"),
    r("A rule under B", rev("tracking:alert_rule_delete", B, lambda w: w.events_a.rule.pk), NOBODY, method="post"),
    r("A site under B", rev("tracking:site_detail", B, "SITE-A"), NOBODY),
    r("A round publish under B", rev("publishing:round_publish", B, lambda w: w.track_a.draft.pk), NOBODY),
    r("A flow point under B", rev("flows:point", B, "FMP-A"), NOBODY),
    r("A corridor under B", rev("flows:corridor", B, "corridor-a"), NOBODY),
    r("A point of entry under B", rev("restrictions:point", B, "POE-A-DRAFT"), NOBODY),
    r("A household under B", rev("registration:household", B, "HH-A-1"), NOBODY),
    r("A household edit under B", rev("registration:household_edit", B, "HH-A-1"), NOBODY),
    r("A household distribute under B", rev("registration:household_distribute", B, "HH-A-1"), NOBODY),
    r("A pair under B", rev("registration:pair_decide", B, lambda w: w.reg_a.pair.pk), NOBODY, method="post",
      data=lambda w, role: {"decision": "not_duplicate"}),
    r("A merge under B", rev("registration:merge_undo", B, lambda w: w.reg_a.merge.pk), NOBODY, method="post"),
    r("A verification under B", rev("registration:verification_round", B, lambda w: w.reg_a.vround.pk), NOBODY),
    r("A verification mark under B",
      rev("registration:verification_mark", B, lambda w: w.reg_a.vround.pk, "HH-B-1"), NOBODY, method="post",
      data=lambda w, role: {"outcome": "present"}),
    r("A verification close under B", rev("registration:verification_close", B, lambda w: w.reg_a.vround.pk),
      NOBODY, method="post"),
    r("B version under A form", rev("collection:version_xml", lambda w: w.col_a.form.pk, lambda w: w.col_b.version.pk),
      NOBODY),
    r("B media under A form",
      rev("collection:media_download", lambda w: w.col_a.form.pk, lambda w: w.col_a.version.pk,
          lambda w: w.col_b.media.pk), NOBODY),
    r("B attachment under A submission",
      rev("collection:attachment", lambda w: w.col_a.submission.pk, lambda w: w.col_b.attachment.pk), NOBODY),
    r("B conflict under A submission",
      rev("collection:conflict_resolve", lambda w: w.col_a.submission.pk, lambda w: w.col_b.conflict.pk), NOBODY,
      method="post", data=lambda w, role: {"resolution": "keep"}),
    r("A form.xml under B", rev("openrosa:form-xml", B, "visit_a"), NOBODY),
    r("A manifest under B", rev("openrosa:manifest", B, "visit_a"), NOBODY),
    r("A media under B", rev("openrosa:media", B, "visit_a", lambda w: w.col_a.media.pk, "logo.png"), NOBODY),
    r("B media under A form id", rev("openrosa:media", A, "visit_a", lambda w: w.col_b.media.pk, "logo.png"),
      NOBODY),
    r("A form under B project", rev("central-form", lambda w: w.b.pk, "visit_a"), NOBODY, auth="central"),
    r("A form xml under B project", lambda w: f"/v1/projects/{w.b.pk}/forms/visit_a.xml", NOBODY, auth="central"),
    r("A odata under B project", lambda w: f"/v1/projects/{w.b.pk}/forms/visit_a.svc/Submissions", NOBODY,
      auth="central"),
]  # fmt: skip


# --- the Django admin: staff only; the registration admin shows no personal value ------------------
def _admin_rows() -> list[Row]:
    """Every admin address: superusers in (as each ModelAdmin allows), everyone else to the admin login."""
    from django.test import RequestFactory

    rows = [
        r("admin index", rev("admin:index"), {"superuser"}),
        r("admin login", rev("admin:login"), EVERYONE),
        r("admin logout", rev("admin:logout"), EVERYONE, method="post"),
        r("admin password", rev("admin:password_change"), {"superuser"}),
        r("admin password done", rev("admin:password_change_done"), {"superuser"}),
        r("admin autocomplete", lambda w: reverse("admin:autocomplete") + "?app_label=core&model_name=round"
          "&field_name=operation", {"superuser"}),
        r("admin jsi18n", rev("admin:jsi18n"), {"superuser"}),
        # An operation has no public address of its own: "view on site" is not found, for superusers too.
        r("admin view on site", lambda w: f"/admin/r/{_ct(w.a)}/{w.a.pk}/", NOBODY),
        r("admin catch-all", lambda w: "/admin/no-such-page/", NOBODY),
    ]  # fmt: skip
    su = SuperuserStub()
    request = RequestFactory().get("/admin/")
    request.user = su
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        base = f"admin:{opts.app_label}_{opts.model_name}"
        label = f"admin {opts.app_label}.{opts.model_name}"
        rows.append(r(f"{label} app", rev("admin:app_list", opts.app_label), {"superuser"}))
        rows.append(r(f"{label} list", rev(f"{base}_changelist"), {"superuser"}))
        add = {"superuser"} if model_admin.has_add_permission(request) else NOBODY
        rows.append(r(f"{label} add", rev(f"{base}_add"), add))
        rows.append(r(f"{label} add post", rev(f"{base}_add"), add, method="post"))
        view = {"superuser"} if model_admin.has_view_or_change_permission(request) else NOBODY
        delete = {"superuser"} if model_admin.has_delete_permission(request) else NOBODY
        rows += [
            r(f"{label} change", lambda w, b=base, m=model: reverse(f"{b}_change", args=[_first_pk(m)]), view),
            r(f"{label} history", lambda w, b=base, m=model: reverse(f"{b}_history", args=[_first_pk(m)]), view),
            r(f"{label} delete", lambda w, b=base, m=model: reverse(f"{b}_delete", args=[_first_pk(m)]), delete),
            r(f"{label} object", lambda w, b=base, m=model: reverse(f"{b}_change", args=[_first_pk(m)])
              .removesuffix("change/"), view),
        ]  # fmt: skip
    rows.append(r("admin user password", lambda w: reverse("admin:auth_user_password_change",
                                                           args=[w.users["viewer"].pk]), {"superuser"}))  # fmt: skip
    return rows


class SuperuserStub:
    is_active = is_staff = is_superuser = is_authenticated = True

    def has_perm(self, perm, obj=None):
        return True

    def has_perms(self, perms, obj=None):
        return True

    def has_module_perms(self, app_label):
        return True


def _ct(obj) -> int:
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.get_for_model(obj).pk


def _first_pk(model) -> str:
    pk = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
    return str(pk if pk is not None else 999999)


ROWS: list[Row] = [*PAGES, *PHONES, *API, *CROSS]


def all_rows() -> list[Row]:
    return [*ROWS, *_admin_rows()]


# --- running a cell ------------------------------------------------------------------------------
LOGIN_PATHS = ("/login/", "/admin/login/")


def outcome(response) -> str:
    """ok (the door opened) or no (sent to log in, 401, 403, 404); a 5xx or 405 is neither."""
    status = response.status_code
    if status >= 500 or status == 405:
        return f"error {status}"
    if status in (401, 403, 404):
        return NO
    if status in (301, 302, 303) and response["Location"].split("?")[0].endswith(LOGIN_PATHS):
        return NO
    return OK


def body_text(response) -> str:
    if getattr(response, "streaming", False):
        data = b"".join(response.streaming_content)  # the test client closes it once read
    else:
        data = response.content
    if data[:2] == b"PK":  # a zip or an xlsx: read the parts
        import io
        import zipfile

        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            data = b"\n".join(archive.read(name) for name in archive.namelist())
    return data.decode("utf-8", "replace")


def call(w, row: Row, role: str):
    client = Client(raise_request_exception=False)
    headers = dict(row.headers)
    user = w.users.get(role)
    if user is not None:
        if row.auth == "session":
            client.force_login(user)
        elif row.auth == "token":
            headers["Authorization"] = f"Bearer {w.tokens[role]}"
        elif row.auth == "central":
            headers["Authorization"] = f"Bearer {w.central_tokens[role]}"
    url = row.url(w)
    kwargs = {"headers": headers}
    if row.data is not None:
        data = row.data(w, role)
        if row.json:
            kwargs.update(data=data, content_type="application/json")
        else:
            kwargs["data"] = data
    return getattr(client, row.method)(url, **kwargs), url


def check_cell(w, row: Row, role: str) -> list[str]:
    """The problems of one cell (empty when it holds), run in a savepoint that is rolled back."""
    problems = []
    with transaction.atomic():
        probe_before = row.probe(w) if row.probe else None
        audit_before = AuditEntry.objects.count()
        response, url = call(w, row, role)
        got = outcome(response)
        want = OK if role in row.allowed else NO
        where = f"{row.method.upper()} {url} as {role}"
        if row.expect_status is not None and response.status_code != row.expect_status:
            problems.append(f"{where}: {response.status_code}, the rule is {row.expect_status}")
        elif got != want:
            refused_in_form = (
                want == NO and row.probe is not None and response.status_code in (200, 400)
                and row.probe(w) == probe_before
            )  # fmt: skip
            if not refused_in_form:
                problems.append(f"{where}: {got} ({response.status_code}), the rule says {want}")
        if want == NO and row.method != "get" and AuditEntry.objects.count() != audit_before:
            problems.append(f"{where}: refused, yet an audit entry was written")
        if response.status_code < 500:
            text = body_text(response)
            for marker in MARKERS:
                if role not in marker.seen_by and (found := marker.found_in(text)):
                    problems.append(f"{where}: shows {marker.kind} ({found!r}) it may not read")
            if got == OK and want == OK:
                for kind in row.shows:
                    if role in MARKER_KINDS[kind].seen_by and not MARKER_KINDS[kind].found_in(text):
                        problems.append(f"{where}: does not show {kind}, which it should")
        transaction.set_rollback(True)
    return problems


@pytest.fixture
def world(settings):
    settings.MOBILITY = {**settings.MOBILITY, "DISCLOSURE_THRESHOLD": 5}
    w = build_world()
    from mobility.collection.central_sessions import central_session_create

    w.central_tokens = {role: central_session_create(user=u)[1] for role, u in w.users.items()}
    return w


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_the_rules_say_and_nothing_more(world, role):
    problems, cells = [], 0
    for row in all_rows():
        cells += 1
        problems += check_cell(world, row, role)
    print(f"\n{role}: {cells} cells checked, {len(problems)} problems")
    assert not problems, "\n".join(problems)


# --- the table covers every address ----------------------------------------------------------------
def _join(prefix: str, route: str) -> str:
    return prefix + route.removeprefix("^") if prefix else route


def walk(resolver=None, prefix: str = ""):
    """Every URL pattern's full route, as ``resolve()`` reports it."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = _join(prefix, str(pattern.pattern))
        if isinstance(pattern, URLResolver):
            yield from walk(pattern, route)
        elif isinstance(pattern, URLPattern):
            yield route


def _api_operations() -> set[tuple[str, str]]:
    """(route, method) of every operation of both ninja APIs, from their OpenAPI schemas."""
    from mobility.api import api
    from mobility.publishing.api_dtm import api as dtm_api

    out = set()
    for ninja_api in (api, dtm_api):
        for path, methods in ninja_api.get_openapi_schema()["paths"].items():
            route = re.sub(r"\{(\w+)\}", r"<\1>", path).lstrip("/")
            out |= {(route, method) for method in methods}
    return out


def test_every_address_is_in_the_table(world):
    routes, operations = set(walk()), _api_operations()
    # The walk sees pages, the admin, phones and both APIs (else the check below would prove nothing).
    assert {
        "operations/<slug:slug>/",
        "admin/core/operation/",
        "collect/<slug:operation>/submission",
    } <= routes
    assert {("api/v1/imports", "post"), ("api/dtm/v3/displacement/admin0", "get")} <= operations
    covered_routes, covered_api = set(), set()
    for row in all_rows():
        path = row.url(world).split("?")[0]
        match = resolve(path)
        covered_routes.add(match.route)
        covered_api.add((match.route, row.method))
    missing = sorted(routes - covered_routes)
    assert not missing, "addresses with no row in the access table:\n" + "\n".join(missing)
    missing_api = sorted(operations - covered_api)
    assert not missing_api, "API operations with no row in the access table:\n" + "\n".join(
        map(str, missing_api)
    )
    rows = all_rows()
    print(
        f"\n{len(routes)} addresses and {len(operations)} API operations, all in the table:"
        f" {len(rows)} rows x {len(ROLES)} roles = {len(rows) * len(ROLES)} cells"
    )

"""No personal value leaves: marker values planted in the registry are searched for in every output.

Households are registered with unique marker values (names, aliases, an address, a phone number, a
document number, a date of birth, a free-text override reason). Then every endpoint we can
enumerate is called by users who hold no registration grant (anonymous, a viewer, a data manager,
a superuser, a member of another operation) — and by a user holding every grant for everything
outside the registration pages, which is the firewall: data collected to deliver services is used
for that only. Searched: every /api/v1 and DTM API route (from their OpenAPI schemas), every page
and download of the site (from the URL resolver, zip/XLSX unpacked), the Django admin of the
registration models, an import job of a registration file with bad rows, the output of the
`mobility registration` subcommands, mail sent, and everything logged at DEBUG by every logger.
The needles are the plain values (any case), their stored tokens, and their keyed hashes.

Extending: a new route is picked up by itself; give its path parameters a value in PARAMS. A new
`mobility registration` subcommand must be added to CLI_RUNS or CLI_NOT_OUTPUT.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import logging
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver

from mobility.core.models import Membership, Role
from mobility.registration import access, protection
from mobility.registration.logging import PersonalDataLogFilter
from mobility.registration.models import (
    Capability,
    Distribution,
    Entitlement,
    Household,
    IdentityDocument,
    Individual,
    Item,
    MatchPair,
    Merge,
    Verification,
    VerificationRound,
)
from tests.registration.factories import household_make

MARKERS = {
    "given_name": "ZQXMARKER-given",
    "family_name": "ZQXMARKER-family",
    "other_names": "ZQXMARKER-alias",
    "address": "ZQXMARKER-address",
    "phone": "+258840000999",
    "document_number": "MARKERDOC123",
    "date_of_birth": "1931-02-03",
}
OVERRIDE_REASON = "given twice: ZQXMARKER-override"
# Plain forms searched for (lower case): each marker and how it may be rewritten.
PLAIN_NEEDLES = [
    "zqxmarker",
    "840000999",
    "markerdoc123",
    "1931-02-03",
    "03/02/1931",
    "02/03/1931",
    "3 feb 1931",
]


@dataclass
class World:
    operation: object
    users: dict
    households: list
    individuals: list
    pair: MatchPair
    merge: Merge
    round: VerificationRound
    distribution: Distribution
    import_jobs: list = field(default_factory=list)
    needles: list = field(default_factory=list)  # plain values, tokens, keyed hashes (lower case)
    problems: list = field(default_factory=list)
    crashes: list = field(default_factory=list)


# --- the registry with markers ----------------------------------------------------------------


def _marker_rows(n: int) -> dict:
    return {
        "given_name": MARKERS["given_name"],
        "family_name": f"{MARKERS['family_name']}{n}",
        "other_names": MARKERS["other_names"],
        "date_of_birth": MARKERS["date_of_birth"],
        "phone": MARKERS["phone"],
        "address": MARKERS["address"],
        "document_type": "national_id",
        "document_number": f"{MARKERS['document_number']}{n}" if n else MARKERS["document_number"],
        "specific_needs": "survivor_of_violence",
        "wg_seeing": "4",
    }


def _plant(operation, registrar, admin_user) -> tuple[list, list]:
    households = []
    with CaptureQueriesContext(connection) as queries:
        for n in range(2):
            households.append(
                household_make(
                    operation,
                    f"HH-LEAK-{n}",
                    by=registrar,
                    head=_marker_rows(n),
                    members=[{"given_name": f"ZQXMARKER-child{n}", "family_name": MARKERS["family_name"]}],
                )
            )
    # Nothing plain reaches the database: every personal value is sealed before it is written.
    sql = "\n".join(q["sql"] for q in queries.captured_queries).lower()
    for needle in ["zqxmarker", "840000999", "markerdoc123", "1931-02-03"]:
        assert needle not in sql, f"{needle} written to the database in the clear"
    individuals = list(Individual.objects.filter(household__in=households).order_by("pk"))
    return households, individuals


def _needles(households, individuals) -> list[str]:
    found = list(PLAIN_NEEDLES)
    for model, rows in ((Household, households), (Individual, individuals)):
        fields = protection.encrypted_columns()[model]
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join(f.column for f in fields)} FROM {model._meta.db_table} "  # noqa: S608
                f"WHERE id IN ({', '.join(str(r.pk) for r in rows)})"
            )
            found += [v for row in cursor.fetchall() for v in row if v]
    for doc in IdentityDocument.objects.filter(individual__in=individuals):
        found.append(doc.number_hash)
    found += [h.phone_hash for h in households if h.phone_hash]
    found += [i.name_hash for i in individuals if i.name_hash]
    return sorted({n.lower() for n in found if n})


def _import_jobs(operation, registrar, tmp_path: Path) -> list:
    """A registration file with marker values, imported once well and once with bad rows."""
    try:
        from mobility.core.imports import job_create, run
        from mobility.registration.importers.individuals import KIND
        from mobility.registration.records import TEMPLATE_COLUMNS
    except ImportError:
        return []
    import csv

    def write(name, rows):
        path = tmp_path / name
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=TEMPLATE_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        return path

    good = [
        {
            "household_id": "HH-LEAK-IMPORT",
            "individual_id": "HH-LEAK-IMPORT-1",
            "relationship": "head",
            "sex": "f",
            "household_size": "1",
            **_marker_rows(7),
        }
    ]
    bad = [
        # no head, a future date of birth, a phone that is no phone, the same document twice,
        # mixed scripts, control characters: every error about a personal column
        {**good[0], "household_id": "HH-BAD-1", "individual_id": "B-1", "relationship": "child"},
        {
            **good[0],
            "household_id": "HH-BAD-2",
            "individual_id": "B-2",
            "date_of_birth": "2931-02-03",
            "phone": "ZQXMARKER-phone",
        },
        {**good[0], "household_id": "HH-BAD-3", "individual_id": "B-3", "document_number": "MARKERDOC123"},
        {
            **good[0],
            "household_id": "HH-BAD-3",
            "individual_id": "B-4",
            "relationship": "spouse",
            "document_number": "MARKERDOC123",
            "given_name": "ZQXMARKERАБВ",  # Latin and Cyrillic in one word
            "family_name": "ZQXMARKER\x01ctl",
            "date_of_birth": "ZQXMARKER-dob",
        },
    ]
    jobs = []
    for name, rows in (("leak-good.csv", good), ("leak-bad.csv", bad)):
        job = job_create(
            kind=KIND,
            source=write(name, rows),
            operation=operation,
            by=registrar,
            profile={"operation": operation.pk},
        )
        jobs.append(run(job))
    return jobs


@pytest.fixture
def world(db, operation, other_operation, admin_user, django_user_model, tmp_path, caplog, settings) -> World:
    settings.ADMINS = [("Ops", "ops@example.org")]  # error mails are searched too
    _log_everything(caplog)

    def user(name, role=None, op=operation, **extra):
        u = django_user_model.objects.create_user(username=name, password="a-long-test-password", **extra)
        if role:
            Membership.objects.create(user=u, operation=op, role=role)
        return u

    users = {
        "anonymous": None,
        "viewer": user("leak-viewer", Role.VIEWER),
        "enumerator": user("leak-enum", Role.ENUMERATOR),
        "data_manager": user("leak-imo", Role.DATA_MANAGER),
        "op_admin": user("leak-admin", Role.ADMIN),  # admin of the operation, no grant
        "superuser": user("leak-root", is_superuser=True, is_staff=True),  # no grant either
        "outsider": user("leak-outsider", Role.ADMIN, op=other_operation),
        "granted": user("leak-granted", Role.DATA_MANAGER),
    }
    access.grant_set(
        operation=operation, user=users["granted"], capabilities=[c.value for c in Capability], by=admin_user
    )
    households, individuals = _plant(operation, users["granted"], admin_user)
    left, right = individuals[0], individuals[2]  # the two heads: a likely duplicate
    pair = MatchPair.objects.create(
        operation=operation,
        left=left,
        right=right,
        match_probability=0.8,
        match_weight=4.2,
        comparisons={"given_name": {"level": "exact", "weight": 3.1, "agrees": True}},
    )
    merge = Merge.objects.create(
        operation=operation, survivor=left, merged=individuals[1], pair=pair, by=admin_user
    )
    round_ = VerificationRound.objects.create(
        operation=operation, name="Round 1", started_on=dt.date(2026, 10, 1), created_by=admin_user
    )
    Verification.objects.create(
        round=round_,
        household=households[0],
        outcome="present",
        members_present=2,
        verified_on=dt.date(2026, 10, 2),
    )
    item = Item.objects.create(operation=operation, code="NFI", name="NFI kit")
    entitlement = Entitlement.objects.create(operation=operation, item=item, period_days=90)
    Distribution.objects.create(
        operation=operation,
        household=households[0],
        item=item,
        entitlement=entitlement,
        quantity=1,
        distributed_on=dt.date(2026, 10, 5),
        reference="D-LEAK-1",
        distributor="Partner NGO",
    )
    distribution = Distribution.objects.create(
        operation=operation,
        household=households[0],
        item=item,
        entitlement=entitlement,
        quantity=1,
        distributed_on=dt.date(2026, 10, 20),
        reference="D-LEAK-2",
        override_reason=OVERRIDE_REASON,
        recorded_by=users["granted"],
    )
    try:  # the published aggregates, so the public API has rows to show
        from mobility.registration.assistance_figures import assistance_publish

        assistance_publish(operation=operation, period="2026-10", by=admin_user)
    except ImportError:
        pass
    world = World(
        operation=operation,
        users=users,
        households=households,
        individuals=individuals,
        pair=pair,
        merge=merge,
        round=round_,
        distribution=distribution,
    )
    world.import_jobs = _import_jobs(operation, users["granted"], tmp_path)
    world.needles = _needles(households, individuals)
    return world


def _log_everything(caplog):
    """Every logger at DEBUG into caplog, through the filter the console handler has in production."""
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    caplog.handler.addFilter(PersonalDataLogFilter())


# --- searching ------------------------------------------------------------------------------


def _texts(content: bytes) -> list[str]:
    """The text of a response; zip files (XLSX, CSV bundles) unpacked."""
    texts = [content.decode("utf-8", errors="replace")]
    if content[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                for name in archive.namelist():
                    texts.append(archive.read(name).decode("utf-8", errors="replace"))
        except zipfile.BadZipFile:
            pass
    return texts


def _search(world: World, label: str, content: bytes | str) -> None:
    data = content.encode() if isinstance(content, str) else content
    for text in _texts(data):
        low = text.lower()
        for needle in world.needles:
            if needle in low:
                at = low.index(needle)
                world.problems.append(f"{label}: {needle!r} in …{text[max(0, at - 60) : at + 60]!r}…")


def _assert_clean(world: World, caplog) -> None:
    for message in mail.outbox:
        _search(world, f"mail {message.subject!r}", message.subject + message.body)
    # what the handler wrote (formatted, tracebacks included), while building the world and after
    plain = [n for n in world.needles if n in PLAIN_NEEDLES]
    for record in caplog.get_records("setup") + caplog.get_records("call"):
        text = caplog.handler.format(record)
        if record.name.startswith("django.db.backends"):
            # SQL (logged when queries are captured) holds tokens and hashes by design; values never.
            sql_check = World(**{**world.__dict__, "needles": plain, "problems": world.problems})
            _search(sql_check, f"SQL log {record.name}", text)
        else:
            _search(world, f"log {record.name}", text)
    if world.crashes:
        warnings.warn("server errors while sweeping: " + "; ".join(world.crashes[:20]), stacklevel=2)
    assert not world.problems, "personal data leaked:\n" + "\n".join(world.problems[:40])


def _clients(world: World, names) -> dict[str, Client]:
    clients = {}
    for name in names:
        client = Client(raise_request_exception=False)
        if world.users[name] is not None:
            client.force_login(world.users[name])
        clients[name] = client
    return clients


def _get(world: World, client: Client, label: str, url: str, params: dict | None = None):
    response = client.get(url, params or {})
    if response.status_code >= 500:
        world.crashes.append(f"{label} {url} → {response.status_code}")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    _search(world, f"{label} GET {url} {params or ''}".strip(), body)
    return response


# --- path parameters ------------------------------------------------------------------------

NOT_GRANTED = ["anonymous", "viewer", "enumerator", "data_manager", "op_admin", "superuser", "outsider"]


def _params(world: World) -> dict[str, list]:
    """Values tried for each path parameter (by name); unknown names get ["1"]."""
    op = world.operation
    household, person = world.households[0], world.individuals[0]
    job_ids = [j.pk for j in world.import_jobs] or [1]
    return {
        "slug": [op.slug],
        "operation": [op.slug],
        "country": [op.country_iso3],
        "location_code": [op.country_iso3],
        "pcode": ["MZ01"],
        "reference": [household.reference, person.reference],
        "household_id": [household.pk],
        "individual_id": [person.pk],
        "pair_id": [world.pair.pk],
        "merge_id": [world.merge.pk],
        "round_id": [world.round.pk, 1],
        "job_id": job_ids,
        "pk": [household.pk, person.pk, 1],
        "id": [household.pk, person.pk, 1],
        "object_id": [household.pk, person.pk],
        "fmt": ["csv", "xlsx", "json", "geojson", "zip"],
        "code": ["NFI", "X"],
    }


def _fill(route: str, params: dict) -> list[str]:
    """Every URL of a route with its <converter:name> / {name} parameters filled from PARAMS."""
    names = re.findall(r"<(?:\w+:)?(\w+)>|\{(\w+)\}", route)
    names = [a or b for a, b in names]
    choices = [params.get(n, ["1"])[:3] for n in names]
    urls = []
    for combo in itertools.product(*choices):
        url = route
        for n, value in zip(names, combo, strict=True):
            url = re.sub(r"<(?:\w+:)?" + n + r">|\{" + n + r"\}", str(value), url, count=1)
        urls.append(url)
    return urls[:12]


def _routes(resolver=None, prefix=""):
    for p in (resolver or get_resolver()).url_patterns:
        if isinstance(p, URLResolver):
            yield from _routes(p, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


SKIPPED_ROUTES = ("admin/", "api/", "logout/", "i18n/", "static/", "media/")


def _page_routes() -> list[str]:
    routes = []
    for route in _routes():
        if route.startswith(SKIPPED_ROUTES) or route.startswith("^") or "(?P<" in route:
            continue
        routes.append(route)
    return routes


# --- sweeps -----------------------------------------------------------------------------------


def _api_sweep(world: World, schema_url: str, base: str, clients: dict[str, Client]) -> int:
    spec = Client().get(schema_url)
    if spec.status_code != 200:
        admin = Client()
        admin.force_login(world.users["superuser"])
        spec = admin.get(schema_url)
    assert spec.status_code == 200, schema_url
    spec = spec.json()
    calls = 0
    params = _params(world)
    for route, operations in spec["paths"].items():
        get = operations.get("get")
        if get is None:
            continue
        required, optional = {}, {}
        for parameter in get.get("parameters", []):
            if parameter.get("in") != "query":
                continue
            value = _query_value(parameter, world)
            (required if parameter.get("required") else optional)[parameter["name"]] = value
        for url in _fill(route, params):
            path = base + url.lstrip("/") if not url.startswith(base) else url
            for label, client in clients.items():
                for query in (
                    {**required},
                    {**required, **optional},
                    {**required, **optional, "output_format": "csv"},
                ):
                    _get(world, client, label, path, query)
                    calls += 1
    return calls


def _query_value(parameter: dict, world: World):
    name = parameter["name"]
    typical = {
        "operation": world.operation.slug,
        "Operation": world.operation.slug,
        "location_code": world.operation.country_iso3,
        "CountryName": "Mozambique",
        "Admin0Pcode": world.operation.country_iso3,
        "output_format": "json",
        "limit": 10000,
        "offset": 0,
    }
    if name in typical:
        return typical[name]
    schema = parameter.get("schema", {})
    kind = schema.get("type") or next(
        (s.get("type") for s in schema.get("anyOf", []) if s.get("type") != "null"), ""
    )
    fmt = schema.get("format") or next(
        (s.get("format") for s in schema.get("anyOf", []) if s.get("format")), ""
    )
    enum = schema.get("enum") or next((s.get("enum") for s in schema.get("anyOf", []) if s.get("enum")), None)
    if enum:
        return enum[0]
    if fmt == "date":
        return "2026-10-01"
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return "true"
    return "x"


def test_the_public_and_member_api_never_shows_personal_values(world, caplog):
    clients = _clients(world, [*NOT_GRANTED, "granted"])
    calls = _api_sweep(world, "/api/v1/openapi.json", "/api/v1/", clients)
    assert calls > 100
    _assert_clean(world, caplog)


def test_the_dtm_compatible_api_never_shows_personal_values(world, caplog):
    clients = _clients(world, [*NOT_GRANTED, "granted"])
    calls = _api_sweep(world, "/api/dtm/v3/openapi.json", "/api/dtm/v3/", clients)
    assert calls > 10
    _assert_clean(world, caplog)


def test_pages_and_downloads_never_show_personal_values_without_a_grant(world, caplog):
    params = _params(world)
    clients = _clients(world, NOT_GRANTED)
    routes = _page_routes()
    assert any(r.startswith("registration/") for r in routes)
    for route in routes:
        for url in _fill(route, params):
            for label, client in clients.items():
                _get(world, client, label, "/" + url)
                if "export" in url or "download" in url or url.endswith((".csv", ".json", ".geojson")):
                    _get(world, client, label, "/" + url, {"format": "csv"})
    _assert_clean(world, caplog)


def test_the_firewall_pages_outside_registration_never_show_personal_values_to_granted_users(world, caplog):
    """A user granted everything still sees no personal value anywhere but the registration pages."""
    params = _params(world)
    clients = _clients(world, ["granted"])
    for route in _page_routes():
        if route.startswith("registration/"):
            continue
        for url in _fill(route, params):
            _get(world, clients["granted"], "granted", "/" + url)
    _assert_clean(world, caplog)


def test_the_admin_of_registration_models_shows_no_personal_values(world, caplog):
    from django.contrib import admin

    client = _clients(world, ["superuser"])["superuser"]
    models = [m for m in admin.site._registry if m._meta.app_label == "registration"]
    for model in models:
        base = f"/admin/registration/{model._meta.model_name}/"
        _get(world, client, "superuser", base)
        for obj in model._default_manager.all()[:20]:
            _get(world, client, "superuser", f"{base}{obj.pk}/change/")
            _get(world, client, "superuser", f"{base}{obj.pk}/history/")
    _get(world, client, "superuser", "/admin/")
    _get(world, client, "superuser", "/admin/registration/")
    _get(world, client, "superuser", "/admin/core/auditentry/")
    _assert_clean(world, caplog)


def test_import_jobs_of_registration_files_show_no_personal_values(world, caplog):
    if not world.import_jobs:
        pytest.skip("the registration importer is not installed")
    good, bad = world.import_jobs
    assert good.status == "succeeded", good.error
    assert bad.status != "succeeded" and bad.row_errors.exists()
    for job in world.import_jobs:
        # stored with the job: its error, summary and every row error (message and value)
        _search(world, f"job {job.pk} error", str(job.error))
        _search(world, f"job {job.pk} summary", str(job.summary))
        for error in job.row_errors.all():
            _search(world, f"job {job.pk} row error", f"{error.text} {getattr(error, 'value', '')}")
    clients = _clients(world, [*NOT_GRANTED, "granted"])
    for job in world.import_jobs:
        for label, client in clients.items():
            for url in (f"/imports/{job.pk}/", f"/imports/{job.pk}/progress/", "/imports/"):
                _get(world, client, label, url)
            _get(world, client, label, f"/api/v1/imports/{job.pk}")
            _get(world, client, label, "/api/v1/imports")
    _assert_clean(world, caplog)


# --- the command line -------------------------------------------------------------------------


def _cli_runs(world: World, tmp_path: Path) -> dict[str, list[list[str]]]:
    slug = world.operation.slug
    return {
        "access-log": [["--operation", slug], ["--operation", slug, "-o", str(tmp_path / "log.csv")]],
        "purge": [["--operation", slug, "--dry-run", "--quiet"]],
        "retention": [["--operation", slug]],
        "rotate-key": [["--check"]],
        "new-key": [[]],
        "assist": [
            ["summary", "--operation", slug, "--from", "2026-01-01", "--to", "2026-12-31"],
            ["summary", "--operation", slug, "--from", "2026-01-01", "--to", "2026-12-31", "--exact"],
        ],
        "verify": [["counts", "--operation", slug], ["counts", "--operation", slug, "--by", "site"]],
        "dedup-run": [["--operation", slug, "--quiet"]],
    }


# Subcommands that print no registry content (or take the officer's own file), or change data:
# the data they change is covered by their own tests.
CLI_NOT_OUTPUT = {
    "grant": "prints a user name and capabilities",
    "erase": "prints counts",
    "dedup": "reads and writes the officer's own file, not the registry",
    "import": "prints counts and row errors (the import-job test searches those)",
}


def test_registration_commands_print_no_personal_values(world, caplog, tmp_path):
    from mobility.registration.management.commands.registration import SUBCOMMANDS

    runs = _cli_runs(world, tmp_path)
    unknown = sorted(set(SUBCOMMANDS) - set(runs) - set(CLI_NOT_OUTPUT))
    assert not unknown, f"add these subcommands to CLI_RUNS or CLI_NOT_OUTPUT in {__file__}: {unknown}"
    for name, arg_lists in runs.items():
        if name not in SUBCOMMANDS:
            continue
        for args in arg_lists:
            out, err = io.StringIO(), io.StringIO()
            try:
                call_command("registration", name, *args, stdout=out, stderr=err)
            except (SystemExit, CommandError) as exc:
                err.write(str(exc))  # the error message is output too
            _search(world, f"mobility registration {name} {' '.join(args)}", out.getvalue() + err.getvalue())
    written = tmp_path / "log.csv"
    if written.exists():
        _search(world, "access-log file", written.read_text())
    _assert_clean(world, caplog)


def test_the_markers_are_there_for_those_granted(world, caplog):
    """The sweep would be worthless if the markers could not be found at all: the needles work."""
    person = Individual.objects.get(pk=world.individuals[0].pk)
    assert person.given_name == MARKERS["given_name"]
    world.problems.clear()
    _search(world, "self-check", f"name {person.given_name}, phone {world.households[0].phone}")
    assert len(world.problems) == 2
    world.problems.clear()
    _assert_clean(world, caplog)


def test_no_plain_personal_value_is_stored_outside_the_encrypted_columns(world, caplog):
    """Every text and JSON column of every table (audit, access log, jobs, dedup models, pairs…)."""
    from django.apps import apps
    from django.db import models

    from mobility.registration.management.commands.registration import SUBCOMMANDS

    if "dedup-run" in SUBCOMMANDS:  # the saved model, pairs and clusters are scanned too
        call_command(
            "registration", "dedup-run", "--operation", world.operation.slug, "--quiet", stdout=io.StringIO()
        )
    encrypted = {(m, f.column) for m, fs in protection.encrypted_columns().items() for f in fs}
    hashed = {(h.model, h.column) for h in protection.KEYED_HASHES}
    scanned = 0
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        columns = [
            f.column
            for f in model._meta.local_concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
            and (model, f.column) not in encrypted
            and (model, f.column) not in hashed
        ]
        if not columns:
            continue
        with connection.cursor() as cursor:
            quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
            cursor.execute(f"SELECT {quoted} FROM {connection.ops.quote_name(model._meta.db_table)}")  # noqa: S608
            for row in cursor.fetchall():
                scanned += 1
                _search(world, f"stored in {model._meta.db_table}", " ".join(str(v) for v in row if v))
    assert scanned > 50
    _assert_clean(world, caplog)

"""Schemathesis over the whole OpenAPI spec of /api/v1 and the DTM-compatible /api/dtm/v3.

Cases are generated from each operation's schema and sent through the WSGI app (no server), as an
anonymous caller and as a data manager with an API token, against a database holding two
operations with data in every app (``world.build_world``), so answers are not all empty. Every
answer must be no server error, have a documented status code and content type, and match its
documented schema. Each case runs in a savepoint that is rolled back, so the world stays the same.

Figure: ``pytest tests/trust/test_api_schema.py -q -s`` prints the number of cases run
(``-m heavy`` for the long run).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import hypothesis
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction

from .world import build_world

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a dev requirement")
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.django_db
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SPECS = {"v1": "/api/v1/openapi.json", "dtm": "/api/dtm/v3/openapi.json"}
CI_EXAMPLES = 25
HEAVY_EXAMPLES = 150
CREDENTIALS = {"authorization", "cookie", "x-anonymous"}


@pytest.fixture
def wsgi_app(settings):
    """Django's WSGI handler, sharing the test's connection (as Django's test client does)."""
    settings.MOBILITY = {**settings.MOBILITY, "DISCLOSURE_THRESHOLD": 5}
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def world(db):
    return build_world()


def known_path_parameters(world) -> dict:
    """Path parameters naming real objects of operation A, so a second run reads and writes real data."""
    return {
        "slug": world.a.slug,
        "round_id": world.track_a.draft.pk,
        "job_id": world.job_a.pk,
        "location_code": "MOZ",
        "pcode": "MZ0101",
        "version_id": world.gazetteer.pk,
    }


KNOWN_QUERY = {"location_code": "MOZ", "Admin0Pcode": "MOZ"}


@dataclass
class Run:
    cases: int = 0
    answered_rows: int = 0  # 2xx answers whose data/result list is not empty
    failures: list[str] = field(default_factory=list)


def _rows_in(response) -> int:
    if response.status_code >= 300:
        return 0
    try:
        body = response.json()
    except ValueError:  # CSV, HTML docs
        return 0
    rows = body.get("data", body.get("result")) if isinstance(body, dict) else body
    return len(rows) if isinstance(rows, list) else 0


def run_schema(app, spec: str, *, headers: dict, max_examples: int, known: dict) -> Run:
    """Run every operation of the spec, generated freely and again on real objects (when it has ids)."""
    schema = schemathesis.openapi.from_wsgi(spec, app)
    run = Run()
    for result in schema.get_all_operations():
        operation = result.ok()
        names = {p.name for p in operation.path_parameters}
        strategies = [operation.as_strategy()]
        if names:
            strategies.append(operation.as_strategy(path_parameters={n: known[n] for n in names}))
        queries = {p.name for p in operation.query} & set(KNOWN_QUERY)
        if queries:  # a filter that matches the world's data, the rest generated
            strategies.append(operation.as_strategy(query={n: KNOWN_QUERY[n] for n in queries}))
        for strategy in strategies:

            @hypothesis.given(case=strategy)
            @hypothesis.settings(
                max_examples=max_examples,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(hypothesis.HealthCheck),
                phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            )
            def one_operation(case):
                run.cases += 1
                # The spec's security schemes make schemathesis send made-up credentials: the caller
                # is exactly the one under test (anonymous: none at all).
                case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in CREDENTIALS}
                case.cookies = {}
                with transaction.atomic():
                    response = case.call(headers=headers)
                    transaction.set_rollback(True)
                run.answered_rows += bool(_rows_in(response))
                case.validate_response(response, checks=CHECKS)

            try:
                one_operation()
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - report, then the next one
                run.failures.append(f"{operation.label}: {exc}")
    return run


def _headers(world, who: str) -> dict:
    return {} if who == "anonymous" else {"Authorization": f"Bearer {world.tokens['data_manager']}"}


@pytest.mark.parametrize("who", ["anonymous", "token"])
@pytest.mark.parametrize("spec", sorted(SPECS))
def test_every_answer_matches_the_spec(wsgi_app, world, spec, who):
    run = run_schema(
        wsgi_app,
        SPECS[spec],
        headers=_headers(world, who),
        max_examples=CI_EXAMPLES,
        known=known_path_parameters(world),
    )
    print(f"\nschemathesis {spec} as {who}: {run.cases} cases, {run.answered_rows} answered with rows")
    assert not run.failures, f"{len(run.failures)} operations fail:\n\n" + "\n\n".join(run.failures)
    assert run.answered_rows > 0, "every answer was empty: the spec was not exercised on data"


@pytest.mark.heavy
@pytest.mark.parametrize("spec", sorted(SPECS))
def test_every_answer_matches_the_spec_at_length(wsgi_app, world, spec):
    """Six times the examples, as the token user (who reaches every operation the anonymous one does)."""
    run = run_schema(
        wsgi_app,
        SPECS[spec],
        headers=_headers(world, "token"),
        max_examples=HEAVY_EXAMPLES,
        known=known_path_parameters(world),
    )
    print(f"\nschemathesis (heavy) {spec}: {run.cases} cases, {run.answered_rows} answered with rows")
    assert not run.failures, f"{len(run.failures)} operations fail:\n\n" + "\n\n".join(run.failures)

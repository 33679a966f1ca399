"""/api/v1/registration/assistance and /counts: published, disclosure-checked aggregates and nothing personal."""

import csv
import datetime as dt
import io
import json
import logging

import pytest

from mobility.core.models import AuditEntry, Role
from mobility.registration import assistance as a
from mobility.registration import assistance_figures as f
from mobility.registration.models import AccessLog, Capability
from tests.registration.assist_helpers import DAY, family, granted, same_person, site_make

MARKER = "zqx"  # every planted personal value and reference carries it
PERSONAL = {
    "given_name": "Zqxgiven",
    "family_name": "Zqxfamily",
    "phone": "+258 84 777 1234",
    "address": "Rua Zqxaddress 12",
    "document_type": "national_id",
    "document_number": "ZQX99887766",
}
PHONE_DIGITS = "847771234"


@pytest.fixture
def manager(django_user_model, operation):
    return granted(
        django_user_model,
        operation,
        "supervisor",
        role=Role.DATA_MANAGER,
        capabilities=[Capability.DISTRIBUTE],
    )


@pytest.fixture
def published(operation, manager, caplog):
    """Eight households in Ancuabe (MZ0101), one in Balama (MZ0102), with planted personal values.

    May is published; June is recorded but not published.
    """
    caplog.set_level(logging.DEBUG)
    ancuabe = site_make(operation, "CD-01", admin2="MZ0101")
    balama = site_make(operation, "CD-02", name="Balama camp", admin2="MZ0102")
    nfi = a.item_create(operation=operation, code="NFI", name="NFI kit", by=manager)
    a.entitlement_set(operation=operation, item=nfi, period_days=20, by=manager)
    households = [
        family(
            operation,
            f"ZQXHH-{i}",
            site_code=ancuabe.code,
            head={**PERSONAL, "document_number": f"ZQX9988{i}"},
        )
        for i in range(8)
    ]
    households.append(family(operation, "ZQXHH-B", site_code=balama.code, head=PERSONAL))
    same_person(households[0], households[8])
    for i, hh in enumerate(households):
        a.distribution_record(
            operation=operation,
            household=hh,
            item=nfi,
            quantity=1,
            distributed_on=DAY,
            reference=f"ZQXDIST-{i}",
            distributor="ZQXPARTNER",
            override_reason="ZQXREASON" if i == 8 else "",
            by=manager,
        )
    a.distribution_record(
        operation=operation,
        household=households[1],
        item=nfi,
        quantity=1,
        distributed_on=dt.date(2026, 6, 20),
        reference="ZQXDIST-JUNE",
        by=manager,
    )
    f.assistance_publish(operation=operation, period="2026-05", by=manager)
    return households


def rows(client, path, **params):
    response = client.get(f"/api/v1/registration/{path}", params)
    assert response.status_code == 200, response.content
    return response.json()["data"]


def test_published_months_only_with_small_cells_null(client, operation, published):
    data = rows(client, "assistance")
    assert {r["reference_period_start"] for r in data} == {"2026-05-01"}  # June is not published
    totals = {
        (r["admin_level"], r["admin2_code"]): r
        for r in data
        if r["gender"] == "all" and r["age_range"] == "all"
    }
    top = totals[(1, None)]
    assert (top["households"], top["individuals"], top["admin1_code"], top["suppressed"]) == (
        9,
        27,
        "MZ01",
        False,
    )
    assert top["location_code"] == "MOZ" and top["operation"] == operation.slug and top["item_code"] == "NFI"
    balama = totals[(2, "MZ0102")]
    assert balama["suppressed"] and balama["households"] is None and balama["individuals"] is None
    assert all(r["individuals"] is None or r["individuals"] == 0 or r["individuals"] >= 5 for r in data)
    women = rows(client, "assistance", admin_level=1, gender="f", age_range="18-59")
    assert [r["individuals"] for r in women] == [9]


def test_filters_paging_and_csv(client, operation, published):
    everything = rows(client, "assistance")
    assert rows(client, "assistance", offset=2, limit=3) == everything[2:5]
    assert rows(client, "assistance", start_date="2026-06-01") == []
    assert rows(client, "assistance", operation="pakistan") == []
    assert len(rows(client, "assistance", admin2_code="mz0101")) > 0
    response = client.get("/api/v1/registration/assistance", {"output_format": "csv"})
    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(table) == len(everything) and list(table[0]) == f.FIGURE_FIELDS


def test_counts_are_the_registry_as_of_the_latest_publication(client, operation, published, manager):
    data = rows(client, "counts")
    top = next(r for r in data if r["admin_level"] == 1 and r["status"] == "all")
    assert (top["households"], top["individuals"]) == (9, 27)
    assert {r["status"] for r in data} <= {"all", "active"}
    family(operation, "ZQXHH-LATE", site_code="CD-01")
    assert next(r for r in rows(client, "counts", admin_level=1, status="all"))["households"] == 9
    f.assistance_publish(operation=operation, period="2026-06", by=manager)
    assert next(r for r in rows(client, "counts", admin_level=1, status="all"))["households"] == 10


def test_list_endpoints_use_a_fixed_number_of_queries(client, published, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        assert rows(client, "assistance")
    with django_assert_max_num_queries(3):
        assert rows(client, "counts")


def test_no_personal_value_or_reference_leaves_through_the_api_logs_or_audit(
    client, django_user_model, operation, published, manager, caplog
):
    answers = []
    token_user = granted(django_user_model, operation, "reader", role=Role.VIEWER)
    for who in (None, token_user, manager):
        if who is not None:
            client.force_login(who)
        for path in ("assistance", "counts"):
            for fmt in ("json", "csv"):
                response = client.get(f"/api/v1/registration/{path}", {"output_format": fmt, "limit": 10000})
                assert response.status_code == 200
                answers.append(response.content.decode())
    answers.append(client.get("/api/v1/openapi.json").content.decode())
    text = "\n".join(answers).lower()
    assert "households" in text  # the answers are real
    assert MARKER not in text and PHONE_DIGITS not in text
    stored = json.dumps(
        [
            list(AuditEntry.objects.values_list("detail", flat=True)),
            list(AccessLog.objects.values_list("detail", "object_id")),
            [p.report for p in operation.assistance_publications.all()],
        ]
    ).lower()
    assert MARKER not in stored and PHONE_DIGITS not in stored
    assert MARKER not in caplog.text.lower() and PHONE_DIGITS not in caplog.text

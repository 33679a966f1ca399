"""`mobility restrictions …`: import, record a status, ask "as of", who restricts, changes, counts, publish."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mobility.restrictions.models import PoEStatus, TravelRestriction
from mobility.restrictions.services import status_record, travel_restriction_save
from tests.restrictions.conftest import write_csv
from tests.restrictions.test_import_registry import POINTS, POINTS_HEADER, STATUS_HEADER, STATUSES

D = dt.date.fromisoformat


def run(*args) -> str:
    out = io.StringIO()
    call_command("restrictions", *args, stdout=out)
    return out.getvalue()


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_import_then_as_of_then_publish(operation, tmp_path):
    slug = operation.slug
    out = run(
        "import",
        "points",
        str(write_csv(tmp_path / "p.csv", POINTS_HEADER, POINTS)),
        "--operation",
        slug,
        "--quiet",
    )
    assert "created 3" in out
    out = run(
        "import",
        "statuses",
        str(write_csv(tmp_path / "s.csv", STATUS_HEADER, STATUSES)),
        "--operation",
        slug,
        "--quiet",
    )
    assert "created 4" in out and "corrections 1" in out
    as_of = {r["code"]: r for r in rows(run("as-of", "--operation", slug, "--date", "2026-06-20"))}
    assert as_of["MOZ-RG"]["status"] == "closed" and as_of["MOZ-RG"]["published"] == "False"
    assert as_of["MOZ-BEW"]["status"] == "none"
    assert rows(run("as-of", "--operation", slug, "--date", "2026-06-20", "--published-only")) == []
    assert "published 4 status record(s)" in run("publish", "--operation", slug, "--what", "statuses")
    public = rows(run("as-of", "--operation", slug, "--date", "2026-06-20", "--published-only"))
    assert {r["code"]: r["status"] for r in public} == {"MOZ-RG": "closed", "MOZ-MPM": "open"}


def test_recording_a_status_from_the_command_line(ressano):
    args = ["status", "--operation", ressano.operation.slug, "--poe", "MOZ-RG", "--date", "2026-03-01"]
    out = run(
        *args, "--status", "partial", "--restriction", "entry", "--measures", "medical_screening;testing"
    )
    assert out.startswith("recorded: MOZ-RG partial from 2026-03-01")
    assert run(
        *args, "--status", "partial", "--restriction", "entry", "--measures", "testing;medical_screening"
    ).startswith("unchanged")
    record = PoEStatus.objects.get()
    assert record.measures == ["medical_screening", "testing"] and not record.published
    with pytest.raises(CommandError, match='No point of entry "NOPE"'):
        run(
            "status",
            "--operation",
            ressano.operation.slug,
            "--poe",
            "NOPE",
            "--date",
            "2026-03-01",
            "--status",
            "open",
        )
    with pytest.raises(CommandError, match="is not a date"):
        run(
            "status",
            "--operation",
            ressano.operation.slug,
            "--poe",
            "MOZ-RG",
            "--date",
            "1/3/26",
            "--status",
            "open",
        )


def test_changes_and_counts(ressano):
    status_record(poe=ressano, effective_from=D("2026-01-01"), status="open")
    status_record(poe=ressano, effective_from=D("2026-01-03"), status="closed", notes="flooded road")
    changes = rows(run("changes", "--operation", ressano.operation.slug))
    assert [
        (r["effective_from"], r["status"], r["previous_status"], r["changed_fields"]) for r in changes
    ] == [
        ("2026-01-03", "closed", "open", "status;notes"),
        ("2026-01-01", "open", "", ""),
    ]
    counts = rows(
        run("counts", "--operation", ressano.operation.slug, "--from", "2025-12-31", "--to", "2026-01-04")
    )
    assert [(r["date"], r["open"], r["closed"], r["none"]) for r in counts] == [
        ("2025-12-31", "0", "0", "1"),
        ("2026-01-01", "1", "0", "0"),
        ("2026-01-02", "1", "0", "0"),
        ("2026-01-03", "0", "1", "0"),
        ("2026-01-04", "0", "1", "0"),
    ]


def test_which_countries_restrict_entry_and_what_changed(operation):
    for ref, imposing, kind, start in (
        ("A", "ZAF", "partial", "2020-03-20"),
        ("B", "TZA", "total", "2020-04-01"),
    ):
        travel_restriction_save(
            restriction=TravelRestriction(
                operation=operation,
                imposing_iso3=imposing,
                target="country",
                target_iso3="MOZ",
                kind=kind,
                effective_from=D(start),
                source_ref=ref,
            )
        )
    now = rows(run("restricting", "--country", "MOZ", "--date", "2020-04-15"))
    assert [(r["imposing_iso3"], r["kind"]) for r in now] == [("TZA", "total"), ("ZAF", "partial")]
    changed = rows(run("restricting", "--country", "MOZ", "--date", "2020-04-15", "--compare", "2020-03-25"))
    assert [(r["imposing_iso3"], r["change"]) for r in changed] == [("TZA", "imposed")]
    assert rows(run("restricting", "--country", "MOZ", "--date", "2020-04-15", "--published-only")) == []
    assert "published 2 travel restriction(s)" in run(
        "publish", "--operation", operation.slug, "--what", "travel"
    )


def test_a_failed_import_prints_its_row_errors(operation, tmp_path):
    path = write_csv(
        tmp_path / "s.csv", STATUS_HEADER, [["MOZ-ZZ", "2026-05-04", "open", "", "", "", "", "", "", ""]]
    )
    out = io.StringIO()
    with pytest.raises(CommandError, match="nothing was stored"):
        call_command(
            "restrictions",
            "import",
            "statuses",
            str(path),
            "--operation",
            operation.slug,
            "--quiet",
            stdout=out,
        )
    assert 'row 2, column poe_code: "MOZ-ZZ"' in out.getvalue()


def test_an_unknown_operation_is_refused(db, tmp_path):
    with pytest.raises(CommandError, match="No operation 'nowhere'"):
        run("as-of", "--operation", "nowhere")


def test_import_publish_publishes_what_the_import_created(ressano, tmp_path):
    status_record(poe=ressano, effective_from=D("2026-01-01"), status="open")  # a draft from elsewhere
    rows_ = [["MOZ-RG", "2026-02-01", "closed", "", "", "", "", "", "", ""]]
    path = write_csv(tmp_path / "s.csv", STATUS_HEADER, rows_)
    out = run("import", "statuses", str(path), "--operation", ressano.operation.slug, "--quiet", "--publish")
    assert "published 1 status record(s)" in out
    assert list(PoEStatus.objects.order_by("effective_from").values_list("published", flat=True)) == [
        False,
        True,
    ]

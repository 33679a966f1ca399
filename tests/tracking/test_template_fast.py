"""The column-wise template reader gives exactly the row reader's records, rows and cells, or hands over to it."""

from __future__ import annotations

import csv
import datetime as dt
import random

import pytest

from mobility.core import imports
from mobility.core.services import round_create
from mobility.gazetteer.models import AdminArea, MatchReview
from mobility.tracking.importers import template
from mobility.tracking.importers.template import TemplateImporter, template_columns
from mobility.tracking.models import AreaFigure, Assessment, FigureBreakdown, PopulationFigure
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture  # noqa: F401

pytestmark = pytest.mark.django_db
GROUPS = ["IDP", "RET-IDP", "HOST"]
REASONS = ["conflict", "Flooding", "Insecurity, banditry", "economic"]
SHELTERS = ["host_family", "Rented house", "camp"]


@pytest.fixture
def round1(operation):
    return round_create(
        operation=operation, number=1, start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 1, 31)
    )


def _areas():
    by_code = {
        a["pcode"]: a
        for a in AdminArea.objects.filter(version__is_current=True, country_iso3="MOZ").values(
            "pcode", "level", "parent__pcode", "name"
        )
    }
    out = []
    for a in sorted(by_code.values(), key=lambda a: a["pcode"]):
        if a["level"] == 3:
            district = by_code[a["parent__pcode"]]
            province = by_code[district["parent__pcode"]]
            out.append((province, district, a))
    return out[:: max(1, len(out) // 30)][:30]


def write_file(
    path, *, reasons=False, sadd=False, origins=False, sites=False, bom=False, loose=False, seed=1
):
    """A template CSV of 30 admin-3 areas (some by name, one with a stale code) × groups (× reasons)."""
    rng = random.Random(seed)
    columns = template_columns()
    female = [c for c in columns if c.startswith("female_")]
    male = [c for c in columns if c.startswith("male_")]
    rows = []
    for i, (province, district, area) in enumerate(_areas()):
        for group in GROUPS:
            for reason in REASONS if reasons else [""]:
                ind = rng.randint(0, 900)
                row = dict.fromkeys(columns, "")
                row.update(
                    location_code="MOZ" if i % 3 else "",
                    admin1_code=province["pcode"],
                    admin1_name=province["name"],
                    admin2_code=district["pcode"],
                    admin2_name=district["name"],
                    admin3_code=area["pcode"],
                    admin3_name=area["name"],
                    population_group=group if i % 4 else group.lower(),
                    individuals=str(ind),
                    households="" if i % 5 == 0 and reason == "Flooding" else str(ind // 5),
                    displacement_reason=reason,
                    shelter_type=rng.choice(SHELTERS) if i % 2 else "",
                    reporting_date=["2026-01-20", "21/01/2026", ""][i % 3],
                    assessment_type=["BSA", "bsa", "BSA"][i % 3],
                    key_informants=str(rng.randint(1, 5)) if i % 2 else "",
                )
                if i % 7 == 0:  # by name only: the matcher runs
                    row.update(admin1_code="", admin2_code="", admin3_code="")
                if i == 8:  # a stale code the name replaces
                    row["admin3_code"] = "MZ9999999"
                if sites and i % 6 == 0:
                    row.update(site_code=f"SITE-{i:03d}", site_name=f"Site {i}")
                if origins and rng.random() < 0.7:
                    row.update(origin_admin1_code=province["pcode"], origin_admin2_code=district["pcode"])
                if sadd and group == "IDP":
                    females = ind // 2
                    if i % 2:
                        row.update(males=str(ind - females), females=str(females))
                    for sex_columns, total in ((female, females), (male, ind - females)):
                        left = total
                        for c in sex_columns[:-1]:
                            row[c] = str(total // len(sex_columns))
                            left -= total // len(sex_columns)
                        row[sex_columns[-1]] = str(left)
                    if i % 5 == 1:  # some parts blank: the known ones stay within the total
                        row[female[0]] = ""
                if loose:  # padded cells, a column the template lacks, one it has left out
                    row["admin2_name"] = f" {row['admin2_name']}  "
                    row["notes"] = f"note {i}"
                    del row["key_informants"]
                rows.append(row)
    with path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(rows[0].keys())
        for row in rows:
            out.writerow(row.values())
    return path


def stored():
    """What the database holds, without ids and times."""
    assessments = sorted(
        Assessment.objects.values_list(
            "assessment_type",
            "place_key",
            "admin_level",
            "admin1_code",
            "admin2_code",
            "admin3_code",
            "location_id",
            "provider_admin1_name",
            "provider_admin3_name",
            "reporting_date",
            "key_informants",
            "source_ref",
        )
    )
    figures = sorted(
        (p, g, i, h, m, f, sorted(s.items()), sorted(sh.items()))
        for p, g, i, h, m, f, s, sh in PopulationFigure.objects.values_list(
            "assessment__place_key",
            "population_group",
            "individuals",
            "households",
            "males",
            "females",
            "sadd",
            "shelter",
        )
    )
    parts = sorted(
        FigureBreakdown.objects.values_list(
            "figure__assessment__place_key",
            "figure__population_group",
            "displacement_reason",
            "provider_reason",
            "origin_admin1_code",
            "origin_admin2_code",
            "individuals",
            "households",
            "males",
            "females",
            "source_ref",
        )
    )
    cells = sorted(
        AreaFigure.objects.values_list(
            "assessment_type",
            "population_group",
            "admin_level",
            "pcode",
            "individuals",
            "households",
            "males",
            "females",
            "assessments",
        )
    )
    reviews = sorted(MatchReview.objects.values_list("provider_name", "level", "match_status", "occurrences"))
    return assessments, figures, parts, cells, reviews


def import_with(monkeypatch, settings, path, operation, *, fast: bool, threshold: int | None = None):
    """Run the import; (job, records handed to the writer, stored rows, whether the fast reader answered)."""
    settings.TRACKING_FAST_IMPORT_ROWS = threshold or (1 if fast else 10**12)
    seen = {}
    real_read, real_write = template.read_fast, TemplateImporter.write

    def spy_read(**kwargs):
        seen["fast"] = real_read(**kwargs)
        return seen["fast"]

    def spy_write(self, *, job, data, progress):
        seen["records"] = list(data)
        return real_write(self, job=job, data=data, progress=progress)

    monkeypatch.setattr(template, "read_fast", spy_read)
    monkeypatch.setattr(TemplateImporter, "write", spy_write)
    job = imports.run(
        imports.job_create(
            kind="tracking.template", source=path, profile={"operation": operation.pk, "round": 1}
        )
    )
    result = (job, seen.get("records"), stored(), seen.get("fast") is not None)
    Assessment.objects.all().delete()
    AreaFigure.objects.all().delete()
    MatchReview.objects.all().delete()
    return result


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"reasons": True},
        {"reasons": True, "sadd": True},
        {"reasons": True, "origins": True, "sites": True},
        {"sadd": True, "sites": True, "bom": True},
        {"reasons": True, "loose": True},
    ],
    ids=["clean", "split", "split-sadd", "reasons-origins-sites", "sadd-bom", "loose"],
)
def test_fast_and_row_readers_agree(
    tmp_path, monkeypatch, settings, moz_gazetteer, operation, round1, options
):
    path = write_file(tmp_path / "round.csv", **options)
    row_job, row_records, row_stored, _ = import_with(monkeypatch, settings, path, operation, fast=False)
    fast_job, fast_records, fast_stored, used = import_with(monkeypatch, settings, path, operation, fast=True)
    assert row_job.status == "succeeded", [e.text for e in row_job.row_errors.all()]
    assert used, "the fast reader handed over"
    assert fast_job.status == "succeeded"
    assert fast_records == row_records
    assert len(row_records) == 30 and row_stored[2] or not options.get("reasons")
    assert [r.assessment_type for r in fast_records] == [r.assessment_type for r in row_records]
    assert fast_stored == row_stored
    assert (fast_job.rows_read, fast_job.created, fast_job.summary) == (
        row_job.rows_read,
        row_job.created,
        row_job.summary,
    )


def _edit(path, row: int, **values):
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    header = next(csv.reader([lines[0]]))
    cells = next(csv.reader([lines[row - 1]]))
    for column, value in values.items():
        cells[header.index(column)] = value
    out = csv.StringIO()
    csv.writer(out).writerow(cells)
    lines[row - 1] = out.getvalue()
    path.write_text("".join(lines), encoding="utf-8")


@pytest.mark.parametrize(
    "change",
    [
        {"individuals": "-5"},
        {"individuals": "1,234"},
        {"population_group": "aliens"},
        {"assessment_type": "XX"},
        {"reporting_date": "yesterday"},
        {"admin3_code": "", "admin3_name": "Nowhere at all", "admin2_code": "", "admin2_name": "Nowhere"},
        {"female_0-4": "100000"},
        {"location_code": "PAK"},
        {"displacement_reason": ""},  # a repeated place × group row
        {"site_name": 'The "old" school'},
    ],
    ids=["negative", "thousands", "group", "type", "date", "place", "sadd", "country", "duplicate", "quotes"],
)
def test_anything_unusual_goes_to_the_row_reader(
    tmp_path, monkeypatch, settings, moz_gazetteer, operation, round1, change
):
    path = write_file(tmp_path / "round.csv", reasons=True, sadd=True)
    _edit(path, 3, **change)
    if change == {"displacement_reason": ""}:
        _edit(path, 2, displacement_reason="")
    row_job, _, row_stored, _ = import_with(monkeypatch, settings, path, operation, fast=False)
    fast_job, _, fast_stored, used = import_with(monkeypatch, settings, path, operation, fast=True)
    assert not used
    errors = lambda job: [(e.row, e.column, e.message, e.value) for e in job.row_errors.all()]  # noqa: E731
    assert (fast_job.status, errors(fast_job), fast_job.summary) == (
        row_job.status,
        errors(row_job),
        row_job.summary,
    )
    assert fast_stored == row_stored


def test_small_files_keep_the_row_reader(tmp_path, monkeypatch, settings, moz_gazetteer, operation, round1):
    path = write_file(tmp_path / "round.csv")
    job, _, _, used = import_with(monkeypatch, settings, path, operation, fast=True, threshold=10_000)
    assert job.status == "succeeded" and not used


def test_replaced_codes_are_counted_per_row(
    tmp_path, monkeypatch, settings, moz_gazetteer, operation, round1
):
    path = write_file(tmp_path / "round.csv", reasons=True)
    row_job, _, _, _ = import_with(monkeypatch, settings, path, operation, fast=False)
    fast_job, _, _, used = import_with(monkeypatch, settings, path, operation, fast=True)
    assert used and fast_job.summary == row_job.summary
    assert any("MZ9999999" in w for w in fast_job.summary["warnings"]), fast_job.summary

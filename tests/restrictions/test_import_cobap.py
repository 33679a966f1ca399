"""The real COBAP policy list imports through its source profile; the expected figures are computed
here from the file with the csv module, independently of the importer."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from pathlib import Path

from mobility.core.models import ImportJob
from mobility.gazetteer.services.versions import countries
from mobility.restrictions.models import TravelRestriction
from tests.conftest import shared
from tests.restrictions.conftest import import_job, write_csv

COBAP = "dtm/covid_travel/cobap_policy_list.csv"
LISTS = [
    "TARGETS_AIR",
    "TARGETS_LAND",
    "TARGETS_SEA",
    "CITIZEN_LIST",
    "HISTORY_BAN_LIST",
    "VISA_BAN_LIST",
    "REFUGEE_LIST",
]


def _date(text: str) -> dt.date:
    return dt.datetime.strptime(text, "%m_%d_%y").date()


def _expected(path: Path) -> dict:
    """What the import must do, from the file and the documented rules (not from the importer)."""
    rows = list(csv.DictReader(path.open(encoding="utf-8-sig", newline="")))
    names = {name: iso3 for iso3, (_iso2, name) in countries().items()}
    kept, skipped = {}, Counter()
    for row in rows:
        if row["POLICY_TYPE"] == "NOPOLICYIMPLEMENTED":
            skipped["no_policy"] += 1
        elif row["ISO3"] in ("EUR", "SOL"):
            skipped["not_a_country"] += 1
        elif row["END_DATE"] != "NONE" and _date(row["END_DATE"]) < _date(row["START_DATE"]):
            skipped["ends_before"] += 1
        else:
            kept[row["ID"]] = row
    plain = {}  # policies whose every listed name is spelled exactly as in the ISO table
    all_targets = set()
    for pid, row in kept.items():
        items = [i.strip() for c in LISTS if row[c] not in ("NA", "") for i in row[c].split(",")]
        if row["POLICY_TYPE"] == "COMPLETE" or not items or "MANDVAX" in items:
            all_targets.add(pid)
        if row["POLICY_TYPE"] == "PARTIAL" and items and all(i in names for i in items):
            plain[pid] = {names[i] for i in items}
    return {"rows": len(rows), "kept": kept, "skipped": skipped, "plain": plain, "all": all_targets}


def test_the_cobap_list_imports_one_restriction_per_target_and_re_imports_unchanged(operation):
    path = shared(COBAP)
    expected = _expected(path)
    job = import_job("restrictions.cobap", path, operation)
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    summary = job.summary
    assert job.rows_read == expected["rows"] == 1762
    assert summary["policies_no_policy"] == expected["skipped"]["no_policy"] == 7
    assert summary["policies_not_a_country"] == expected["skipped"]["not_a_country"] == 20
    assert summary["policies_ending_before_start"] == expected["skipped"]["ends_before"] == 14
    # Policies naming only things that are not countries are reported, never widened to "everyone".
    assert summary["policies_imported"] + summary["policies_no_target_matched"] == len(expected["kept"])
    assert 0 < summary["policies_no_target_matched"] < 30
    stored = TravelRestriction.objects.filter(operation=operation, source="cobap")
    assert job.created == stored.count() == summary["restrictions"]
    assert stored.values("source_ref").distinct().count() == summary["policies_imported"]

    targets = {}
    for ref, target, iso3 in stored.values_list("source_ref", "target", "target_iso3"):
        targets.setdefault(ref, set()).add(iso3 if target == "country" else target)
    for pid, iso3s in expected["plain"].items():
        assert targets[pid] == iso3s, pid
    assert len(expected["plain"]) > 300
    assert {pid for pid, t in targets.items() if "all" in t} == expected["all"]
    assert summary["targets_all"] == len(expected["all"])

    # Kinds, dates and the source of one policy, checked against its row.
    for pid in ("CY36", *list(expected["kept"])[::97]):
        if pid not in targets:
            continue
        row = expected["kept"][pid]
        kind = {"COMPLETE": "total"}.get(row["POLICY_TYPE"]) or (
            "visa" if row["POLICY_SUBTYPE"] == "VISA_BAN" else "partial"
        )
        end = (
            None
            if row["END_DATE"] == "NONE"
            else max(_date(row["START_DATE"]), _date(row["END_DATE"]) - dt.timedelta(days=1))
        )
        for r in stored.filter(source_ref=pid):
            assert (r.imposing_iso3, r.kind, r.effective_from, r.effective_to) == (
                row["ISO3"],
                kind,
                _date(row["START_DATE"]),
                end,
            ), pid
    cy36 = stored.filter(source_ref="CY36").first()
    assert cy36.source_url.startswith("https://web.archive.org/") and cy36.details["lists"] == [
        "travel_history"
    ]
    assert stored.filter(
        source_ref="CY36", target_iso3="VAT"
    ).exists()  # "Vatican City" through the alias table

    # Unmatched names are reported with their counts, not dropped.
    assert summary["unmatched_names"]["Catalonia"] == 8
    assert any(w.startswith('country name not matched: "Catalonia" (8 time(s)') for w in summary["warnings"])
    assert summary["names_matched"] > 100_000

    again = import_job("restrictions.cobap", path, operation)
    assert (again.created, again.updated, again.unchanged) == (0, 0, job.created)
    assert TravelRestriction.objects.filter(operation=operation, source="cobap").count() == job.created


HEADER = ["ID", "COUNTRY_NAME", "ISO3", "ISO2", "POLICY_TYPE", "POLICY_SUBTYPE", "START_DATE", "END_DATE", "AIR", "AIR_TYPE", "TARGETS_AIR", "LAND", "LAND_TYPE", "TARGETS_LAND", "SEA", "SEA_TYPE", "TARGETS_SEA", "CITIZEN", "CITIZEN_LIST", "HISTORY_BAN", "HISTORY_BAN_LIST", "REFUGEE", "REFUGEE_LIST", "VISA_BAN", "VISA_BAN_TYPE", "VISA_BAN_LIST", "CITIZEN_EXCEP", "CITIZEN_EXCEP_LIST", "COUNTRY_EXCEP", "COUNTRY_EXCEP_LIST", "WORK_EXCEP", "SOURCE_QUALITY", "SOURCE_TYPE", "INTERNAL_GOVT_SOURCE", "AIRLINE_SOURCE", "INSURANCE_SOURCE", "GOVT_SOCIAL_MED_SOURCE", "EXT_GOVT_SOURCE", "INTERNAL_MEDIA_SOURCE", "EXT_MEDIA_SOURCE", "OTHER_SOURCE", "END_SOURCE", "COMMENTS", "OLD_ID"]  # fmt: skip


def _policy(pid, iso3, ptype, subtype, start, end, *, air="NA", history="NA", comments=""):
    """An invented policy in COBAP's shape (COBAP's own rows are GPL-3.0 and are not copied here)."""
    row = dict.fromkeys(HEADER, "NA")
    row.update(
        ID=pid, COUNTRY_NAME=iso3, ISO3=iso3, ISO2=iso3[:2], POLICY_TYPE=ptype, POLICY_SUBTYPE=subtype,
        START_DATE=start, END_DATE=end, AIR="1" if air != "NA" else "0", TARGETS_AIR=air,
        HISTORY_BAN_LIST=history, COMMENTS=comments, INTERNAL_GOVT_SOURCE="https://example.org/notice",
        SOURCE_QUALITY="Sure",
    )  # fmt: skip
    return [row[h] for h in HEADER]


def test_a_small_cobap_file_maps_names_regions_and_lifting_dates(operation, tmp_path):
    rows = [
        _policy(
            "ZA01",
            "ZAF",
            "PARTIAL",
            "BORDER_CLOSURE",
            "03_26_20",
            "06_01_20",
            air="Mozambique, Cape Verde, Schengen Area",
        ),
        _policy(
            "ZA02",
            "ZAF",
            "PARTIAL",
            "HISTORY_BAN",
            "04_01_20",
            "NONE",
            history="Virgin Islands, British, Ivory Coast, Atlantis",
        ),
        _policy("TZ01", "TZA", "COMPLETE", "CITIZEN_EXCEP", "04_10_20", "NA"),
    ]
    job = import_job("restrictions.cobap", write_csv(tmp_path / "c.csv", HEADER, rows), operation)
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    got = {
        (r.source_ref, r.target, r.target_iso3 or r.target_region, r.kind, r.effective_to)
        for r in TravelRestriction.objects.all()
    }
    lifted = dt.date(2020, 5, 31)  # lifted on 1 June: in force until 31 May
    assert got == {
        ("ZA01", "country", "MOZ", "partial", lifted),
        ("ZA01", "country", "CPV", "partial", lifted),
        ("ZA01", "region", "Schengen Area", "partial", lifted),
        ("ZA02", "country", "VGB", "partial", None),
        ("ZA02", "country", "CIV", "partial", None),
        ("TZ01", "all", "", "total", None),
    }
    assert job.summary["unmatched_names"] == {"Atlantis": 1}


def test_bad_cobap_rows_fail_the_import_by_row_and_column(operation, tmp_path):
    rows = [
        _policy("ZA01", "ZAF", "PARTIAL", "BORDER_CLOSURE", "13_45_20", "NONE", air="Mozambique"),
        _policy("ZA02", "ZAF", "SOMETIMES", "BORDER_CLOSURE", "04_01_20", "NONE"),
        _policy("ZA02", "XYZ", "PARTIAL", "BORDER_CLOSURE", "04_01_20", "NONE"),
    ]
    job = import_job("restrictions.cobap", write_csv(tmp_path / "c.csv", HEADER, rows), operation)
    assert job.status == ImportJob.Status.FAILED
    texts = [e.text for e in job.row_errors.all()]
    assert 'row 2, column START_DATE: "13_45_20" is not a date in the form MM_DD_YY' in texts
    assert any(
        t.startswith('row 3, column POLICY_TYPE: "SOMETIMES BORDER_CLOSURE" is not a policy type')
        for t in texts
    )
    assert 'row 4, column ID: "ZA02" policy ZA02 is already on row 3' in texts
    assert 'row 4, column ISO3: "XYZ" is not an ISO3 country code' in texts
    assert not TravelRestriction.objects.exists()


def test_a_cobap_file_missing_a_column_fails_whole(operation, tmp_path):
    header = [h for h in HEADER if h != "HISTORY_BAN_LIST"]
    row = [
        v
        for h, v in zip(
            HEADER, _policy("A1", "ZAF", "COMPLETE", "WORK_EXCEP", "04_01_20", "NONE"), strict=True
        )
        if h != "HISTORY_BAN_LIST"
    ]
    job = import_job("restrictions.cobap", write_csv(tmp_path / "c.csv", header, [row]), operation)
    assert job.status == ImportJob.Status.FAILED and '"HISTORY_BAN_LIST"' in job.error

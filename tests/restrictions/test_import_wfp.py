"""The real WFP travel restriction list imports through its source profile: HTML stripped, odd iso3
codes skipped with warnings, measures read from the texts, snapshots chained."""

from __future__ import annotations

import csv
import datetime as dt
import re

from mobility.core.models import ImportJob
from mobility.gazetteer.services.versions import countries
from mobility.restrictions.importers.common import html_to_text
from mobility.restrictions.models import TravelRestriction
from tests.conftest import shared
from tests.restrictions.conftest import import_job, write_csv

WFP = "dtm/covid_travel/wfp_covid_19_travel_restrictions_by_country_latest.csv"
TAG = re.compile(r"<\s*/?\s*(a|br|p|strong|li|ul|ol|b)\b[^>]*>", re.IGNORECASE)


def _rows(path):
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_wfp_list_imports_one_restriction_per_country_row(operation):
    path = shared(WFP)
    rows = _rows(path)
    known = countries()
    aliases = {"RKS": "XKX", "ANT": "BES"}
    several = [r for r in rows if "," in r["iso3"]]
    singles = [r for r in rows if "," not in r["iso3"]]
    not_iso = [r for r in singles if aliases.get(r["iso3"], r["iso3"]) not in known and r["iso3"] != "EUR"]
    countries_rows = [r for r in singles if aliases.get(r["iso3"], r["iso3"]) in known]
    kept = [r for r in countries_rows if r["published"] or r["optional1"]]

    job = import_job("restrictions.wfp", path, operation)
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    s = job.summary
    assert job.rows_read == len(rows) == 290
    assert s["skipped_several_countries"] == len(several) == 10
    assert s["skipped_not_iso3"] == len(not_iso)
    assert s["skipped_not_country"] == 1  # the European Union
    assert s["skipped_empty"] == len(countries_rows) - len(kept)
    assert job.created == len(kept) == 235
    assert any('Abyei ("SDN, SSD")' in w for w in s["warnings"])
    assert any('Akrotiri ("xUK")' in w for w in s["warnings"])

    stored = TravelRestriction.objects.filter(operation=operation, source="wfp")
    assert stored.count() == 235 and set(stored.values_list("target", flat=True)) == {"all"}
    by_territory = {r.details["territory"]: r for r in stored}
    for row in kept:
        r = by_territory[" ".join(row["adm0_name"].split())]
        assert r.effective_from == dt.datetime.strptime(row["published"], "%d.%m.%Y").date()
        assert r.effective_to is None
        for text in (r.notes, r.details["quarantine"], r.details["testing"], r.details["exceptions"]):
            assert not TAG.search(text), r.details["territory"]
        # WFP's own category line decides testing: "… required …" or "… not required / not known".
        testing = html_to_text(row["optional3"])[0]
        if testing.startswith("COVID-19 negative certification not required"):
            assert "testing" not in r.details["measures"], r.details["territory"]
        elif testing.startswith("COVID-19 negative certification required"):
            assert "testing" in r.details["measures"], r.details["territory"]
    moz = by_territory["Mozambique"]
    assert moz.imposing_iso3 == "MOZ" and moz.kind == "medical"
    assert moz.details["measures"] == ["quarantine", "testing", "vaccination"]
    assert moz.details["quarantine"].startswith("Self-isolation at own accommodation- subject to PCR.\n")
    assert moz.source_url == "https://mz.usembassy.gov/covid-19-information/"
    assert moz.source_ref == "Mozambique 2022-04-22"
    assert by_territory["Kosovo"].imposing_iso3 == "XKX"
    assert {by_territory["Saba"].imposing_iso3, by_territory["Sint Eustatius"].imposing_iso3} == {"BES"}

    again = import_job("restrictions.wfp", path, operation)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 235)


HEADER = [
    "adm0_name",
    "iso3",
    "X",
    "Y",
    "published",
    "sources",
    "info",
    "optional1",
    "optional2",
    "optional3",
    "optional4",
    "",
]


def _row(name, iso3, published, info="", quarantine="", testing="", exceptions=""):
    """An invented row in WFP's shape: HTML in the cells, a line break inside a cell."""
    optional1 = "".join(reversed(published.split("."))) if published else ""
    sources = '<a href="https://example.org/advice">Travel advice</a>/\n <a href="javascript:alert(1)">x</a>'
    return [name, iso3, "0", "0", published, sources, info, optional1, quarantine, testing, exceptions, ""]


def test_html_is_stripped_and_snapshots_are_chained(operation, tmp_path):
    first = [
        _row(
            "Utopia",
            "MOZ",
            "01.03.2022",
            info="Latest News: <br>\n<script>alert('x')</script><strong>Borders open</strong> &amp; <Israel’s site",
            quarantine="Quarantine requirement at government designated site. <br> 14 days.",
            testing="COVID-19 negative certification not required / not known",
        ),
        _row("Abyei", "SDN, SSD", ""),
        _row("Akrotiri", "xUK", ""),
    ]
    job = import_job("restrictions.wfp", write_csv(tmp_path / "w1.csv", HEADER, first), operation)
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    r = TravelRestriction.objects.get()
    assert r.notes == "Latest News:\n\nBorders open & <Israel’s site"
    assert r.details["measures"] == ["quarantine"] and r.kind == "medical"
    assert r.source_url == "https://example.org/advice"
    assert r.details["sources"] == [{"title": "Travel advice", "url": "https://example.org/advice"}]

    later = [
        _row(
            "Utopia",
            "MOZ",
            "15.04.2022",
            testing="COVID-19 negative certification required for entering the country.",
        )
    ]
    job = import_job("restrictions.wfp", write_csv(tmp_path / "w2.csv", HEADER, later), operation)
    assert (job.created, job.summary["closed"]) == (1, 1)
    old, new = TravelRestriction.objects.order_by("effective_from")
    assert old.effective_to == dt.date(2022, 4, 14) and new.effective_to is None
    assert new.details["measures"] == ["testing"]
    # Importing the older snapshot again changes nothing: the chain owns the end dates.
    again = import_job("restrictions.wfp", write_csv(tmp_path / "w3.csv", HEADER, first), operation)
    assert (again.created, again.updated, again.unchanged, again.summary["closed"]) == (0, 0, 1, 0)


def test_a_bad_wfp_date_is_a_row_error(operation, tmp_path):
    rows = [_row("Utopia", "MOZ", "2022-03-01")]
    rows[0][5] = "Travel advice"  # one line: the row number is the record's line
    job = import_job("restrictions.wfp", write_csv(tmp_path / "w.csv", HEADER, rows), operation)
    assert job.status == ImportJob.Status.FAILED
    assert [e.text for e in job.row_errors.all()][0] == (
        'row 2, column published: "2022-03-01" is not a date in the form DD.MM.YYYY'
    )
    assert not TravelRestriction.objects.exists()

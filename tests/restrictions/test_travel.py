"""Travel restrictions on a date: the matrix, which countries restrict entry from X, and how that changed."""

from __future__ import annotations

import datetime as dt

import pytest

from mobility.restrictions.countries import CountryMatcher, Match
from mobility.restrictions.models import TravelRestriction
from mobility.restrictions.selectors import (
    Audience,
    restricting_changes,
    restricting_countries,
    travel_in_force,
    travel_matrix,
)
from mobility.restrictions.services import travel_restriction_save

D = dt.date.fromisoformat
EVERYTHING = Audience.internal()


def _save(operation, ref, imposing, kind, start, end=None, *, target="country", iso3="", region=""):
    return travel_restriction_save(
        restriction=TravelRestriction(
            operation=operation,
            imposing_iso3=imposing,
            target=target,
            target_iso3=iso3,
            target_region=region,
            kind=kind,
            effective_from=D(start),
            effective_to=D(end) if end else None,
            source="manual",
            source_ref=ref,
        )
    )


@pytest.fixture
def policies(operation):
    _save(operation, "ZA1", "ZAF", "medical", "2020-03-01", "2020-03-25", iso3="MOZ")
    _save(operation, "ZA2", "ZAF", "total", "2020-03-26", "2020-09-30", target="all")
    _save(operation, "TZ1", "TZA", "partial", "2020-04-01", iso3="MOZ")
    _save(operation, "TZ2", "TZA", "visa", "2020-04-10", "2020-04-30", iso3="MOZ")
    _save(
        operation,
        "DE1",
        "DEU",
        "partial",
        "2020-03-17",
        region="Southern African Development Community",
        target="region",
    )
    _save(operation, "MZ1", "MOZ", "total", "2020-03-23", target="all")  # a country does not restrict itself


def test_the_ends_of_a_restriction_are_both_in_force(policies):
    def refs(day: str) -> set[str]:
        return set(travel_in_force(day=D(day), audience=EVERYTHING).values_list("source_ref", flat=True))

    assert "ZA1" in refs("2020-03-01") and "ZA1" in refs("2020-03-25")
    assert "ZA1" not in refs("2020-02-29") and "ZA1" not in refs("2020-03-26")


def test_which_countries_restrict_entry_from_mozambique(policies):
    rows = restricting_countries(iso3="moz", day=D("2020-04-15"), audience=EVERYTHING)
    assert [(r["imposing_iso3"], r["kind"], r["via"]) for r in rows] == [
        ("ZAF", "total", ["all"]),
        ("TZA", "visa", ["country"]),  # the severest of its two restrictions
        ("DEU", "partial", ["region:Southern African Development Community"]),
    ]
    assert rows[1]["kinds"] == ["visa", "partial"] and rows[0]["imposing_name"] == "South Africa"


def test_how_that_changed_between_two_dates(policies):
    rows = restricting_changes(
        iso3="MOZ", day_from=D("2020-03-10"), day_to=D("2020-04-15"), audience=EVERYTHING
    )
    assert [(r["imposing_iso3"], r["kind_before"], r["kind_after"], r["change"]) for r in rows] == [
        ("DEU", None, "partial", "imposed"),
        ("TZA", None, "visa", "imposed"),
        ("ZAF", "medical", "total", "tightened"),
    ]
    rows = restricting_changes(
        iso3="MOZ", day_from=D("2020-04-15"), day_to=D("2020-10-15"), audience=EVERYTHING
    )
    assert [(r["imposing_iso3"], r["change"]) for r in rows] == [("TZA", "eased"), ("ZAF", "lifted")]


def test_the_matrix_keeps_targets_as_given(policies):
    cells = {
        (c["imposing_iso3"], c["target"], c["target_iso3"] or c["target_region"]): c["kind"]
        for c in travel_matrix(day=D("2020-04-15"), audience=EVERYTHING)
    }
    assert cells == {
        ("ZAF", "all", ""): "total",
        ("TZA", "country", "MOZ"): "visa",
        ("DEU", "region", "Southern African Development Community"): "partial",
        ("MOZ", "all", ""): "total",
    }


def test_drafts_are_hidden_from_the_public(policies):
    assert restricting_countries(iso3="MOZ", day=D("2020-04-15"), audience=Audience.public()) == []
    TravelRestriction.objects.filter(source_ref="TZ1").update(published=True)
    rows = restricting_countries(iso3="MOZ", day=D("2020-04-15"), audience=Audience.public())
    assert [(r["imposing_iso3"], r["kind"]) for r in rows] == [("TZA", "partial")]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Turkey", ["TUR"]),
        ("Pak- istan", ["PAK"]),
        ("CÃ´te dâ€™Ivoire", ["CIV"]),
        ("R√©union", ["REU"]),
        ("St. Kitts and Nevis", ["KNA"]),
        ("the Netherlands", ["NLD"]),
        ("Timor-Leste (East Timor)", ["TLS"]),
        ("Vatican City", ["VAT"]),
        ("Taiwan", ["TWN"]),
        ("South Korea", ["KOR"]),
        ("Ivory Coast", ["CIV"]),
        ("Zambia and Zimbabwe", ["ZMB", "ZWE"]),
        ("Algeria Senegal", ["DZA", "SEN"]),
        ("Trinidad and Tobago", ["TTO"]),
        ("Schengen Area", ["region:Schengen Area"]),
        ("European Union", ["region:European Union"]),
        ("Catalonia", None),
        ("Korea", None),
    ],
)
def test_country_names_as_sources_write_them(text, expected):
    found = CountryMatcher().one(text)
    got = None if found is None else [m.iso3 or f"region:{m.region}" for m in found]
    assert got == expected


def test_a_list_rejoins_official_names_that_hold_a_comma():
    result = CountryMatcher().names(
        "Niger, Virgin Islands, British, Palestine, State of, Korea, Republic of, Atlantis"
    )
    assert result.matches == [Match("NER"), Match("VGB"), Match("PSE"), Match("KOR")]
    assert result.unmatched == ["Atlantis"]

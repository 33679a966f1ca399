"""An information officer matches free-text place names to p-codes."""

from __future__ import annotations

import unicodedata

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from mobility.gazetteer.matching import (
    MATCH_NO_GAZETTEER,
    MAX_NAME_CHARS,
    AreaMatcher,
    MatchStatus,
    normalize_name,
)

from .gazetteer_fixtures import moz_gazetteer_fixture, pak_gazetteer_fixture  # noqa: F401


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Distrito de Ancuabe", "ancuabe"),
        ("  ANCUABE district ", "ancuabe"),
        ("Ancuabe Sede", "ancuabe sede"),  # "Sede" is part of the name, not an area type
        ("Zambézia", "zambezia"),
        ("Provincia de Zambezia", "zambezia"),
        ("Posto Administrativo de Mucojo", "mucojo"),
        ("M'Tamba", "mtamba"),
        ("Muzaffarabad", "muzafarabad"),
        ("Muzafarabad", "muzafarabad"),
        ("Muzaffar Abad Tehsil", "muzafarabad"),
        ("Khuzdar", "kuzdar"),
        ("Shikarpoor", "shikarpur"),
        ("D. I. Khan", "di kan"),
        ("Town-II", "town 2"),
        ("District", "district"),  # nothing else left: the word stays
        ("", ""),
    ],
)
def test_normalising_a_name(raw, key):
    assert normalize_name(raw) == key


LATIN = st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzéèêáàãâçíóôõúüñ '-.,"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_the_normaliser_never_raises_is_bounded_and_idempotent(text):
    key = normalize_name(text)
    assert isinstance(key, str)
    assert len(key) <= MAX_NAME_CHARS
    assert normalize_name(key) == key


@settings(max_examples=300, deadline=None)
@given(LATIN)
def test_the_normaliser_ignores_case_and_accents(text):
    unaccented = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    assert normalize_name(text) == normalize_name(text.upper()) == normalize_name(unaccented)


def test_the_normaliser_bounds_huge_input():
    assert len(normalize_name("Ancuabe " * 100_000)) <= MAX_NAME_CHARS


@pytest.mark.parametrize(
    ("name", "status", "pcode"),
    [
        ("Ancuabe", MatchStatus.EXACT, "MZ0101"),
        ("ancuabe", MatchStatus.EXACT, "MZ0101"),
        ("Distrito de Ancuabe", MatchStatus.EXACT, "MZ0101"),
        ("Manhica", MatchStatus.EXACT, "MZ0504"),  # Manhiça without its cedilla
        ("Ancaube", MatchStatus.FUZZY, "MZ0101"),  # transposed letters
        ("Cidade de Pemba", MatchStatus.EXACT, "MZ0104"),
        ("Distrito de Pemba", MatchStatus.EXACT, "MZ0117"),  # Pemba district, not the city
        ("Xyzzy", MatchStatus.UNMATCHED, ""),
    ],
)
def test_matching_mozambique_districts(moz_gazetteer, name, status, pcode):
    result = AreaMatcher("MOZ", 2).match(name)
    assert (result.status, result.pcode) == (status, pcode)
    if pcode:
        assert result.admin1_code == pcode[:4]
        assert result.admin2_code == pcode


@pytest.mark.parametrize(
    ("level", "name", "matched_name"),
    [
        (1, "Zambézia", "Zambezia"),
        (1, "ZAMBEZIA", "Zambezia"),
        (3, "Liupo Sede", "Liúpo Sede"),
        (3, "canicado", "Caniçado"),
    ],
)
def test_accents_on_either_side_do_not_matter(moz_gazetteer, level, name, matched_name):
    result = AreaMatcher("MOZ", level).match(name)
    assert result.status == MatchStatus.EXACT
    assert result.matched_name == matched_name


@pytest.mark.parametrize("name", ["Muzafarabad", "Muzaffarabad District", "muzaffar abad"])
def test_pakistani_transliteration_variants(pak_gazetteer, name):
    result = AreaMatcher("PAK", 2).match(name)
    assert result.matched
    assert result.pcode == "PK107"
    assert result.codes == {"admin1_code": "PK1", "admin2_code": "PK107"}


def test_kuzdar_is_khuzdar(pak_gazetteer):
    assert AreaMatcher("PAK", 2).match("Kuzdar").matched_name == "Khuzdar"


def test_a_name_under_two_parents_is_ambiguous_without_the_parent(pak_gazetteer):
    matcher = AreaMatcher("PAK", 3)
    result = matcher.match("Sahiwal")
    assert result.status == MatchStatus.AMBIGUOUS
    assert result.pcode == ""
    assert {c["pcode"] for c in result.candidates} == {"PK63102", "PK63203"}


@pytest.mark.parametrize("parent", ["Sargodha", "PK632", "sargodha district"])
def test_the_parent_tells_them_apart(pak_gazetteer, parent):
    result = AreaMatcher("PAK", 3).match("Sahiwal", parent=parent)
    assert result.status == MatchStatus.EXACT
    assert result.pcode == "PK63203"
    assert result.row() == {
        "admin1_code": "PK6",
        "admin2_code": "PK632",
        "admin3_code": "PK63203",
        "match_status": "exact",
        "match_score": "100.0",
        "matched_name": "Sahiwal",
    }


def test_fuzzy_matching_stays_under_the_parent(pak_gazetteer):
    # "Bagh" tehsil is under Bagh district (PK101); under Muzaffarabad there is no close name.
    matcher = AreaMatcher("PAK", 3)
    assert matcher.match("Baag", parent="PK101").pcode == "PK10101"
    elsewhere = matcher.match("Bagh", parent="PK107")
    assert not elsewhere.matched
    assert "PK10101" in {c["pcode"] for c in elsewhere.candidates}  # shown to the reviewer


def test_two_close_candidates_are_not_guessed(moz_gazetteer):
    # "Macoia" is one letter from Macomia and from Macossa: too close to call.
    result = AreaMatcher("MOZ", 2).match("Macoia")
    assert result.status == MatchStatus.AMBIGUOUS
    assert {"Macomia", "Macossa"} <= {c["name"] for c in result.candidates}


def test_without_a_gazetteer_the_matcher_says_so(db):
    with pytest.raises(ValidationError) as exc:
        AreaMatcher("MOZ", 2)
    assert exc.value.messages == [MATCH_NO_GAZETTEER.format(country="MOZ")]


def test_every_tehsil_matches_itself(pak_gazetteer):
    """Each admin-3 name finds its own area (speed is measured in bench/bench_matching.py, not here)."""
    matcher = AreaMatcher("PAK", 3)
    areas = [a for a in matcher.areas.values() if a.level == 3]
    assert len(areas) > 500
    for area in areas:
        result = matcher._match(area.name, "")
        assert result.pcode == area.pcode or area.pcode in {c["pcode"] for c in result.candidates}, area.name

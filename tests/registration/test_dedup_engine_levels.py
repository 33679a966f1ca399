"""Comparison levels that once let relatives and namesakes pass for duplicates (1M synthetic benchmark)."""

from __future__ import annotations

import polars as pl
import pytest

from mobility.registration.dedup import engine
from mobility.registration.dedup.settings import blocking_for

MAPPING = {
    "given_name": "given",
    "family_name": "family",
    "date_of_birth": "dob",
    "phone": "phone",
    "location": "place",
}
ROWS = [
    # id, given, family, date of birth, phone, place
    ("A", "Ali", "Hassan", "1990-01-01", "+258 84 123 4567", "MZ010101"),
    ("B", "Hassan", "Ali", "1990-01-01", "", "MZ010101"),  # A with the names the other way round
    ("C", "Hassan", "Omar", "1990-01-01", "", "MZ010101"),  # a son named after A's family name
    ("D", "Maria", "Matola", "2007-09-21", "+258 83 976 9336", "MZ020202"),
    ("E", "Isabel", "Matola", "2007-09-21", "+258 83 976 9336", "MZ020202"),  # D's sister, same phone
    ("F", "Rosa", "Matola", "2007-09-21", "+258 86 000 1111", "MZ020202"),  # same place, another phone
]


@pytest.fixture(scope="module")
def scored():
    frame = pl.DataFrame(ROWS, schema=["id", *MAPPING.values()], orient="row")
    table = engine.prepare(frame, MAPPING, id_column="id")
    model = engine.train(table)  # a small list keeps the starting values
    pairs = engine.predict(table, model, threshold=None)
    return {
        (row["unique_id_l"], row["unique_id_r"]): engine.explain(row, model)
        for row in pairs.iter_rows(named=True)
    }


def test_names_written_the_other_way_round_count_once(scored):
    why = scored[("A", "B")]
    assert why["given_name"]["level"] == "written as the family name"
    assert why["given_name"]["weight"] > 0
    assert why["family_name"]["level"].startswith("written as the given name")
    assert why["family_name"]["weight"] == 0


def test_one_name_equal_to_the_others_other_name_is_not_a_swap(scored):
    why = scored[("A", "C")]
    assert why["given_name"]["level"] == "different"
    assert why["family_name"]["level"] == "different"


def test_a_place_shared_with_the_phone_adds_nothing_to_the_phone(scored):
    shared_phone = scored[("D", "E")]
    assert shared_phone["phone"]["level"] == "same"
    assert shared_phone["location"] == {"level": "same (and the same phone)", "weight": 0.0, "agrees": False}
    other_phone = scored[("D", "F")]
    assert other_phone["location"]["level"] == "same"
    assert other_phone["location"]["weight"] > 0


def _sql(rule) -> str:
    return rule.get_blocking_rule("duckdb").blocking_rule_sql


def test_em_trains_the_date_of_birth_on_pairs_sharing_a_document_when_there_are_documents():
    with_documents = blocking_for(["given_name", "family_name", "date_of_birth", "document_number"])
    assert [_sql(r) for r in with_documents.train] == ['l."dob" = r."dob"', 'l."document" = r."document"']
    without = blocking_for(["given_name", "family_name", "date_of_birth"])
    assert "given_key" in _sql(without.train[1]) and "family_key" in _sql(without.train[1])


def test_pairs_sharing_a_phone_are_compared_only_when_the_sex_does_not_rule_them_out():
    rules = [
        r if isinstance(r, str) else _sql(r)
        for r in blocking_for(["given_name", "family_name", "sex", "phone"]).predict
    ]
    assert "l.phone = r.phone AND (l.sex IS NULL OR r.sex IS NULL OR l.sex = r.sex)" in rules
    assert 'l."phone" = r."phone"' in [_sql(r) for r in blocking_for(["given_name", "phone"]).predict]

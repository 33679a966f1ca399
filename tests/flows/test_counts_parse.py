"""count_parse on any text: it never crashes, names a template column for every problem, reads valid
rows back exactly however people write them, and the column-wise reader's cell rules accept only
what count_parse reads the same way."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mobility.flows.counts import (
    COUNT_COLUMNS,
    MAX_COUNT,
    TEXT_LIMIT,
    FieldProblem,
    count_of,
    count_parse,
)
from mobility.flows.importers.counts import _EDGE_SPACE
from mobility.flows.models import (
    SADD_FIELDS,
    VULNERABILITY_FIELDS,
    IntendedDuration,
    MovementReason,
    TransportMode,
)
from mobility.flows.template import TEMPLATE_COLUMNS
from mobility.gazetteer.services.versions import countries

FMPS = {"SOM-FMP-01": 11, "SOM-FMP-02": 12, "ETH 7": 13}
COUNTRIES = sorted(countries().items())
TODAY = dt.date.today()
CELLS = st.one_of(
    st.text(max_size=70),
    st.sampled_from(["", " ", "-", "n/a", "0", "-3", "1.5", "1,234", "+5", "07:00", "24", "in", "OUT", "zz"]),
    st.integers(-10, 10**11).map(str),
    st.dates(dt.date(1990, 1, 1), dt.date(2100, 1, 1)).map(lambda d: d.strftime("%d/%m/%Y")),
)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(raw=st.dictionaries(st.sampled_from(TEMPLATE_COLUMNS), CELLS), row=st.integers(2, 10**7))
def test_any_text_gives_values_or_errors_that_name_row_and_column(raw, row):
    values, errors = count_parse(raw, row=row, fmps=FMPS)
    assert (values is None) == bool(errors)
    for error in errors:
        assert error.row == row
        assert error.column in TEMPLATE_COLUMNS
        assert error.message and isinstance(error.message, str)
        assert error.text.startswith(f"row {row}, column {error.column}: ")
    if values is not None:
        assert values["fmp_id"] in FMPS.values()
        assert 0 < len(values["record_id"]) <= TEXT_LIMIT
        assert values["date"] <= TODAY
        assert 1 <= values["period_hours"] <= 24
        assert values["hour_start"] is None or values["hour_start"] + values["period_hours"] <= 24
        assert values["direction"] in ("in", "out")
        sadd = [values[f] for f in SADD_FIELDS if values[f] is not None]
        assert sum(sadd) <= values["individuals"]
        assert all(values[f] <= values["individuals"] for f in VULNERABILITY_FIELDS)


def _label(choices, value: str) -> str:
    return str(dict(choices.choices)[value])


@st.composite
def valid_rows(draw):
    """(cells as someone might write them, the values count_parse must give)."""
    code = draw(st.sampled_from(sorted(FMPS)))
    record_id = draw(
        st.text(
            st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zs", "Zl", "Zp"]),
            min_size=1,
            max_size=TEXT_LIMIT,
        )
    )
    assume(record_id.strip() == record_id)
    date = draw(st.dates(dt.date(2000, 1, 1), TODAY))
    hour = draw(st.one_of(st.none(), st.integers(0, 23)))
    period = draw(st.integers(1, 24 - (hour or 0)) if hour is not None else st.integers(1, 24))
    direction = draw(st.sampled_from(["in", "out"]))
    individuals = draw(st.integers(0, 5000))
    sadd = draw(st.lists(st.one_of(st.none(), st.integers(0, 50)), min_size=8, max_size=8))
    assume(sum(p for p in sadd if p is not None) <= individuals)
    vulnerable = draw(st.lists(st.integers(0, individuals), min_size=4, max_size=4))
    iso3, (iso2, _name) = draw(st.sampled_from(COUNTRIES))
    transport = draw(st.sampled_from(TransportMode.values))
    reason = draw(st.sampled_from(MovementReason.values))
    duration = draw(st.sampled_from(IntendedDuration.values))
    admin = draw(st.text(max_size=TEXT_LIMIT).map(str.strip))
    expected = {
        "fmp_id": FMPS[code],
        "record_id": record_id,
        "date": date,
        "hour_start": hour,
        "period_hours": period,
        "direction": direction,
        "from_country": iso3,
        "from_admin1": admin,
        "from_admin2": "",
        "to_country": "",
        "to_admin1": "",
        "to_admin2": "",
        "nationality": iso3,
        "transport": transport,
        "reason": reason,
        "intended_duration": duration,
        "individuals": individuals,
        "households": None,
        **dict(zip(SADD_FIELDS, sadd, strict=True)),
        **dict(zip(VULNERABILITY_FIELDS, vulnerable, strict=True)),
    }
    # How people write it: padding, ISO2 or lower case, labels, d/m/Y dates, clock hours, entry/exit.
    pad = draw(st.sampled_from(["", " ", "  "]))
    cells = {
        "fmp_code": pad + code,
        "record_id": record_id + pad,
        "date": draw(st.sampled_from([date.isoformat(), date.strftime("%d/%m/%Y")])),
        "hour_start": ""
        if hour is None
        else draw(st.sampled_from([str(hour), f"{hour:02d}:00", f"{hour:02d}:00:00"])),
        "period_hours": str(period)
        if (hour is None and period != 24) or (hour is not None and period != 1)
        else draw(st.sampled_from(["", str(period)])),
        "direction": draw(
            st.sampled_from(
                {"in": ["in", "IN", "Entry", "incoming"], "out": ["out", "Exit", "outgoing"]}[direction]
            )
        ),
        "from_country": draw(st.sampled_from([iso3, iso3.lower(), iso2] if iso2 else [iso3])),
        "from_admin1": admin,
        "nationality": iso3,
        "transport": draw(st.sampled_from([transport, transport.upper(), _label(TransportMode, transport)])),
        "reason": draw(st.sampled_from([reason, _label(MovementReason, reason).lower()])),
        "intended_duration": draw(st.sampled_from([duration, _label(IntendedDuration, duration)])),
        "individuals": draw(st.sampled_from([str(individuals), f"{individuals:,}", f" {individuals} "])),
        **{f: "" if p is None else str(p) for f, p in zip(SADD_FIELDS, sadd, strict=True)},
        **{f: str(v) for f, v in zip(VULNERABILITY_FIELDS, vulnerable, strict=True)},
    }
    if transport == "unknown" and draw(st.booleans()):
        cells["transport"] = ""
    return cells, expected


@FAST
@given(case=valid_rows())
def test_valid_rows_come_back_as_they_were_meant(case):
    cells, expected = case
    values, errors = count_parse(cells, row=2, fmps=FMPS)
    assert errors == []
    assert values == expected


# --- the column-wise reader's cell rules ----------------------------------------------------------


@FAST
@given(texts=st.lists(CELLS, min_size=1, max_size=30))
def test_a_count_polars_accepts_is_the_count_count_parse_reads(texts):
    """importers/counts.py clears a count cell that is empty or that polars reads as 0..MAX_COUNT."""
    series = pl.Series(texts, dtype=pl.String)
    numbers = series.str.to_integer(strict=False).to_list()
    for text, number in zip(texts, numbers, strict=True):
        if text == "":
            assert count_of(text) is None
        elif number is not None and 0 <= number <= MAX_COUNT:
            assert count_of(text.strip()) == number, text


@FAST
@given(texts=st.lists(st.text(max_size=80), min_size=1, max_size=30))
def test_a_text_polars_keeps_as_it_is_is_one_python_would_not_strip(texts):
    """importers/counts.py keeps record ids and admin names as they are when no edge is a space."""
    kept = (~pl.Series(texts, dtype=pl.String).str.contains(_EDGE_SPACE)).to_list()
    for text, as_is in zip(texts, kept, strict=True):
        if as_is:
            assert text.strip() == text, repr(text)


def test_each_count_column_gives_the_same_messages():
    for column in COUNT_COLUMNS:
        _values, errors = count_parse({column: "-3"}, row=5, fmps=FMPS)
        assert any(e.column == column and e.value == "-3" for e in errors)
    try:
        count_of("1.5")
    except FieldProblem as problem:
        assert "whole number" in str(problem)
    else:
        raise AssertionError("1.5 is not a count")

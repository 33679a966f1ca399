"""Sex-and-age disaggregation: one structure, configurable bands, complete parts add up to the total."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mobility.core.sadd import SADD_PARTS_DISAGREE, AgeBands, Sadd


def test_default_bands_are_dtm_bands():
    assert AgeBands.default().labels() == ["0-4", "5-11", "12-17", "18-59", "60+"]


def test_complete_parts_must_add_up_to_the_total():
    bands = AgeBands.default()
    ok = Sadd.build(total=20, bands=bands, female=[1, 2, 3, 4, 0], male=[2, 2, 2, 2, 2])
    assert ok.problems() == []
    bad = Sadd.build(total=21, bands=bands, female=[1, 2, 3, 4, 0], male=[2, 2, 2, 2, 2])
    assert bad.problems() == [SADD_PARTS_DISAGREE.format(parts=20, total=21)]


def test_incomplete_parts_are_not_checked_against_the_total_but_may_not_exceed_it():
    bands = AgeBands.default()
    partial = Sadd.build(total=50, bands=bands, female=[1, None, 3, 4, 0], male=[2, 2, 2, 2, 2])
    assert partial.problems() == []
    assert not partial.is_complete
    too_many = Sadd.build(total=5, bands=bands, female=[1, None, 3, 4, 0], male=[2, 2, 2, 2, 2])
    assert too_many.problems()


def test_custom_bands_from_an_operation():
    bands = AgeBands.parse(["0-17", "18+"])
    assert bands.labels() == ["0-17", "18+"]
    assert bands.band_of(17) == "0-17" and bands.band_of(64) == "18+"
    with pytest.raises(ValueError):
        AgeBands.parse(["0-4", "6-17", "18+"])  # a gap at 5


@given(
    female=st.lists(st.integers(min_value=0, max_value=10_000), min_size=5, max_size=5),
    male=st.lists(st.integers(min_value=0, max_value=10_000), min_size=5, max_size=5),
)
def test_sum_of_parts_is_always_consistent(female, male):
    s = Sadd.build(total=sum(female) + sum(male), bands=AgeBands.default(), female=female, male=male)
    assert s.problems() == []
    assert s.female_total + s.male_total == s.total

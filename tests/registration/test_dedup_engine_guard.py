"""EM that takes relatives for duplicates must not leave a model that punishes agreement."""

import copy

from mobility.registration.dedup.engine import _guard_collapsed


def comparison(name, m_values, u_values=None):
    levels = [{"label_for_charts": "missing", "is_null_level": True}]
    for i, m in enumerate(m_values):
        levels.append(
            {
                "label_for_charts": f"level {i}",
                "m_probability": m,
                "u_probability": (u_values or [0.1] * 9)[i],
            }
        )
    return {"output_column_name": name, "comparison_levels": levels}


START = {"comparisons": [comparison("date_of_birth", [0.8, 0.1, 0.1]), comparison("location", [0.5, 0.5])]}


def test_an_upside_down_comparison_gets_its_starting_m_back_and_keeps_its_u():
    trained = {"comparisons": [comparison("date_of_birth", [0.002, 0.06, 0.938], [0.0001, 0.004, 0.9959]),
                               comparison("location", [0.12, 0.88])]}  # fmt: skip
    guarded = _guard_collapsed(copy.deepcopy(trained), START)
    dob = guarded["comparisons"][0]["comparison_levels"][1:]
    assert [level["m_probability"] for level in dob] == [0.8, 0.1, 0.1]
    assert [level["u_probability"] for level in dob] == [0.0001, 0.004, 0.9959]
    # Location started even (people move): "same" below "different" after training is kept.
    assert guarded["comparisons"][1] == trained["comparisons"][1]


def test_a_sensible_trained_comparison_is_kept():
    trained = {
        "comparisons": [comparison("date_of_birth", [0.9, 0.05, 0.05]), comparison("location", [0.7, 0.3])]
    }
    assert _guard_collapsed(copy.deepcopy(trained), START) == trained

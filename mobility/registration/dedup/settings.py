"""Splink settings for Mobility's deduplication: comparisons, starting m and u, blocking rules.

Backend-neutral (plain SQL and Splink's comparison-level library, so DuckDB and Spark render
them); used through `engine.settings_for` and `engine.blocking_for`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Fields a caller can map (canonical name → the caller's column).
FIELDS = (
    "given_name",
    "family_name",
    "date_of_birth",
    "birth_year",  # used when date_of_birth is empty (age-only registrations)
    "sex",
    "document_number",
    "phone",
    "email",
    "address",
    "postcode",
    "locality",
    "location",  # a p-code (household location or site)
)


def _level(creator, label: str, m: float | None = None, u: float | None = None, **options):
    """A comparison level with a reviewer-readable label and starting m and u."""
    if m is not None:
        options["m_probability"] = m
    if u is not None:
        options["u_probability"] = u
    return creator.configure(label_for_charts=label, **options)


def _comparison(name: str, description: str, levels: list):
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name=name, comparison_description=description, comparison_levels=levels
    )


def _tf(column: str, on: bool) -> dict:
    return {"tf_adjustment_column": column} if on else {}


# Starting values (m, u) are what an untrained model uses on a small list (see train()); on a larger
# one u comes from random sampling and m from EM. They are set so that, untrained, the same name,
# date of birth and place make a duplicate, and siblings (same family name and place, another
# given name and date of birth) stay apart.


def _name_comparison(side: str, other: str, tf: bool):
    import splink.comparison_level_library as cll

    name, key = f"{side}_name", f"{side}_key"
    other_name, other_key = f"{other}_name", f"{other}_key"
    # Both names written the other way round: both keys swapped (a spelling variant still counts)
    # and one name written the same (short keys of different names often collide). One name equal
    # to the other's alone is a relative as often as not. Counted once, on the given name: the
    # family name's level (m and u fixed and equal) would say the same thing again.
    swapped = cll.CustomLevel(
        f"{key}_l = {other_key}_r AND {other_key}_l = {key}_r "
        f"AND ({name}_l = {other_name}_r OR {other_name}_l = {name}_r)"
    )
    if side == "given":
        swap = _level(swapped, f"written as the {other} name", 0.03, 0.001)
    else:
        swap = _level(
            swapped,
            f"written as the {other} name (counted on the {other} name)",
            0.5,
            0.5,
            fix_m_probability=True,
            fix_u_probability=True,
        )
    return _comparison(
        name,
        f"{side} name",
        [
            _level(cll.NullLevel(name), "missing"),
            _level(cll.ExactMatchLevel(name), "same", 0.55, 0.003, **_tf(name, tf)),
            _level(cll.ExactMatchLevel(key), "same sound when transliterated", 0.2, 0.01, **_tf(key, tf)),
            _level(cll.JaroWinklerLevel(name, 0.92), "very similar (Jaro-Winkler ≥ 0.92)", 0.1, 0.003),
            _level(cll.JaroWinklerLevel(name, 0.8), "similar (Jaro-Winkler ≥ 0.8)", 0.05, 0.03),
            swap,
            _level(cll.ElseLevel(), "different", 0.07, 0.953),
        ],
    )


_YEAR = "substr(dob_l, 1, 4) = substr(dob_r, 1, 4)"
_MONTH = "substr(dob_l, 6, 2) = substr(dob_r, 6, 2)"
_DAY = "substr(dob_l, 9, 2) = substr(dob_r, 9, 2)"


def _dob_comparison():
    import splink.comparison_level_library as cll

    return _comparison(
        "date_of_birth",
        "date of birth",
        [
            _level(
                cll.CustomLevel("birth_year_l IS NULL OR birth_year_r IS NULL"), "missing", is_null_level=True
            ),
            _level(cll.ExactMatchLevel("dob"), "same", 0.775, 0.001),
            _level(cll.CustomLevel("dob_swapped_l = dob_r"), "day and month swapped", 0.04, 0.0005),
            _level(
                # cheaper than an edit distance and close to it: one typo changes one of the three
                cll.CustomLevel(f"({_YEAR} AND {_MONTH}) OR ({_YEAR} AND {_DAY}) OR ({_MONTH} AND {_DAY})"),
                "two of day, month and year the same",
                0.08,
                0.003,
            ),
            _level(
                cll.CustomLevel("(dob_l IS NULL OR dob_r IS NULL) AND birth_year_l = birth_year_r"),
                "same year (one gives only the year)",
                0.04,
                0.02,
            ),
            _level(
                cll.CustomLevel(
                    "abs(dob_days_l - dob_days_r) <= 366 OR ((dob_l IS NULL OR dob_r IS NULL) "
                    "AND abs(birth_year_l - birth_year_r) <= 1)"
                ),
                "within a year",
                0.06,
                0.03,
            ),
            # a duplicate's date rarely differs beyond a typo, a swap or a year: siblings' do
            _level(cll.ElseLevel(), "different", 0.005, 0.9455),
        ],
    )


def _one_typo(column: str):
    """Damerau-Levenshtein distance 1, computed only when the first or last 3 characters agree
    (one typo leaves one end intact in values of 7 characters or more; 10 times faster on random pairs)."""
    import splink.comparison_level_library as cll

    ends = (
        f"substr({column}_l, 1, 3) = substr({column}_r, 1, 3) OR right({column}_l, 3) = right({column}_r, 3)"
    )
    return cll.And(cll.CustomLevel(ends), cll.DamerauLevenshteinLevel(column, 1))


def _exact_comparison(column: str, description: str, m: float, u: float, *, typo: str = "", tf: bool = False):
    import splink.comparison_level_library as cll

    levels = [
        _level(cll.NullLevel(column), "missing"),
        _level(cll.ExactMatchLevel(column), "same", m, u, **_tf(column, tf)),
    ]
    rest = 1 - m
    if typo:
        levels.append(_level(_one_typo(column), typo, rest / 2, u / 10))
        rest /= 2
    levels.append(_level(cll.ElseLevel(), "different", rest, 1 - u - (u / 10 if typo else 0)))
    return _comparison(column, description, levels)


def _location_comparison(phone: bool):
    """The p-code: same or different; with phones, "same place, same phone" weighs nothing.

    A household's phone and place go together: relatives sharing a phone share the place too, so
    once the phone agrees the place is no further evidence (counting both let a phone and place
    shared by siblings outweigh their different given names and dates of birth). The level's m and
    u are fixed and equal.
    """
    import splink.comparison_level_library as cll

    levels = [_level(cll.NullLevel("location"), "missing")]
    if phone:
        levels.append(
            _level(
                cll.And(cll.ExactMatchLevel("location"), cll.ExactMatchLevel("phone")),
                "same (and the same phone)",
                0.5,
                0.5,
                fix_m_probability=True,
                fix_u_probability=True,
            )
        )
    levels += [
        _level(cll.ExactMatchLevel("location"), "same", 0.8, 0.05),
        _level(cll.ElseLevel(), "different", 0.2, 0.95),
    ]
    return _comparison("location", "location p-code", levels)


def _text_comparison(column: str, description: str, m: float, u: float, *, tf=False, close=0.9, far=0.7):
    import splink.comparison_level_library as cll

    return _comparison(
        column,
        description,
        [
            _level(cll.NullLevel(column), "missing"),
            _level(cll.ExactMatchLevel(column), "same", m, u, **_tf(column, tf)),
            _level(cll.JaroWinklerLevel(column, close), f"very similar (Jaro-Winkler ≥ {close})", 0.08, 0.01),
            _level(cll.JaroWinklerLevel(column, far), f"similar (Jaro-Winkler ≥ {far})", 0.04, 0.1),
            _level(cll.ElseLevel(), "different", 1 - m - 0.12, 0.89 - u),
        ],
    )


@dataclass(frozen=True)
class BlockingPlan:
    """Blocking rules for predictions and for training m by EM, given the fields present."""

    predict: list
    train: list
    prior: list


def blocking_for(fields: Iterable[str]) -> BlockingPlan:
    """The candidate-pair rules for the fields present (each rule only uses columns that have values)."""
    from splink import block_on

    f = set(fields)
    names = {"given_name", "family_name"} <= f
    dob = "date_of_birth" in f
    place = next((p for p in ("location", "locality") if p in f), None)
    # Name keys are common in some operations (Muhammad Khan): never block on the keys alone.
    # With sex recorded, the name rules also split by sex (a wrong sex is rarer than a common name).
    sex = ["sex"] if "sex" in f else []
    predict = []
    if names and dob:
        predict.append(block_on("given_key", "family_key", "birth_year", *sex))
    if names and place:
        predict.append(block_on("given_key", "family_key", place, *sex))
    if names and not dob and not place:
        predict.append(block_on("given_key", "family_key"))
    if dob:
        for side in ("given", "family"):
            if f"{side}_name" in f:
                predict.append(block_on(f"{side}_key", "dob"))
        if names:
            # both names misspelt beyond their keys: same date of birth and initials
            predict.append(block_on("dob", "substr(given_name, 1, 1)", "substr(family_name, 1, 1)"))
        if place:
            # names missing or unrecognisable: same date of birth and place
            predict.append(block_on("dob", place))
    if names and dob:
        # given and family names written the other way round (both initials crossed: one alone
        # compared 1.3M pairs of 1M synthetic records and found no duplicate the others miss)
        predict.append(
            "l.dob = r.dob AND substr(l.given_name, 1, 1) = substr(r.family_name, 1, 1)"
            " AND substr(l.family_name, 1, 1) = substr(r.given_name, 1, 1)"
        )
        predict.append(
            "l.given_key = r.family_key AND l.family_key = r.given_key AND l.birth_year = r.birth_year"
        )
    for field, column in (("document_number", "document"), ("phone", "phone"), ("email", "email")):
        if field not in f:
            continue
        if column == "phone" and sex:
            # a household's phone is everyone's: not its members of the other sex (a sex recorded
            # wrongly or not at all still is); half the pairs, and 3 % of the duplicates only this
            # rule finds, on 1M synthetic records
            predict.append("l.phone = r.phone AND (l.sex IS NULL OR r.sex IS NULL OR l.sex = r.sex)")
        else:
            predict.append(block_on(column))
    if "postcode" in f and "family_name" in f:
        predict.append(block_on("postcode", "substr(family_key, 1, 2)"))
    if "address" in f:
        predict.append(block_on("address", "substr(given_name, 1, 1)" if "given_name" in f else "birth_year"))
    if not predict:
        key = "family_key" if "family_name" in f else "given_key"
        predict.append(block_on(key, place) if place else block_on(key))

    # EM on date of birth first: pairs born the same day are rarely namesakes, so the name
    # comparisons learn from true duplicates; then on the name keys, for the date comparisons.
    # (Blocking on names first lets common namesakes - and relatives - pass for duplicates.)
    # With documents, the second session blocks on them instead: pairs sharing a document are
    # nearly all duplicates, where pairs sharing both name keys are mostly namesakes and EM learns
    # that "matches" disagree on the date of birth, phone and place.
    train = []
    if dob:
        train.append(block_on("dob"))
    elif "document_number" in f:
        train.append(block_on("document"))
    elif "phone" in f:
        train.append(block_on("phone"))
    if dob and "document_number" in f:
        train.append(block_on("document"))
    elif names:
        train.append(block_on("given_key", "family_key"))
    elif "family_name" in f:
        train.append(block_on("family_key"))
    else:
        train.append(block_on("given_key"))

    prior = []
    if names and dob:
        prior.append(block_on("given_key", "family_key", "dob"))
    if "document_number" in f:
        prior.append(block_on("document"))
    if not prior:
        prior = [train[0]]
    return BlockingPlan(predict=predict, train=train, prior=prior)


def settings_for(columns: Iterable[str], *, term_frequencies: bool = True):
    """Splink settings (a SettingsCreator, backend-neutral) comparing the given FIELDS.

    Comparisons: names (exact with term frequencies, transliterated key with term frequencies,
    Jaro-Winkler 0.92 / 0.8, given/family swapped, else), date of birth (exact, day/month swapped,
    one digit, same year when one side gives only the year, within a year, else), sex, document
    number (exact, one character), phone (exact, one digit), address (exact, Jaro-Winkler 0.9 / 0.7),
    postcode (exact, one character), locality (exact with term frequencies, Jaro-Winkler), location
    (exact p-code). Every level has a starting m and u so a small file scores sensibly untrained.
    `term_frequencies` adjusts exact name, postcode and locality matches by how common the value is
    (train() turns it off below TF_MIN_RECORDS records, where every value looks common).
    """
    from splink import SettingsCreator

    fields = [c for c in columns if c in FIELDS]
    if "birth_year" in fields and "date_of_birth" not in fields:
        fields.append("date_of_birth")
    comparisons = []
    tf = term_frequencies
    if "given_name" in fields:
        comparisons.append(_name_comparison("given", "family", tf))
    if "family_name" in fields:
        comparisons.append(_name_comparison("family", "given", tf))
    if "date_of_birth" in fields:
        comparisons.append(_dob_comparison())
    if "sex" in fields:
        comparisons.append(_exact_comparison("sex", "sex", 0.97, 0.5))
    if "document_number" in fields:
        comparisons.append(
            _exact_comparison("document", "document number", 0.85, 0.0001, typo="one character different")
        )
    if "phone" in fields:
        comparisons.append(_exact_comparison("phone", "phone", 0.6, 0.0005, typo="one digit different"))
    if "email" in fields:
        comparisons.append(_text_comparison("email", "e-mail", 0.6, 0.0005, close=0.88, far=0.8))
    if "address" in fields:
        comparisons.append(_text_comparison("address", "address", 0.6, 0.002))
    if "postcode" in fields:
        comparisons.append(
            _exact_comparison("postcode", "postcode", 0.8, 0.02, typo="one character different", tf=tf)
        )
    if "locality" in fields:
        comparisons.append(_text_comparison("locality", "locality", 0.8, 0.05, tf=tf))
    if "location" in fields:
        comparisons.append(_location_comparison("phone" in fields))
    plan = blocking_for(fields)
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=plan.predict,
        probability_two_random_records_match=0.0001,
        # Splink keeps the levels (gamma_*) only with the matching columns; _to_pairs() drops the values.
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=True,
        additional_columns_to_retain=[],
    )

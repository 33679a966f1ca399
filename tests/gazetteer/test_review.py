"""A data manager resolves the names the matcher would not decide; the choice is used next time."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from mobility.core.models import AuditEntry
from mobility.gazetteer.matching import MatchStatus, matcher_for
from mobility.gazetteer.models import AreaAlias, MatchReview
from mobility.gazetteer.services.matching import (
    ALIAS_PARENT_MISMATCH,
    ALIAS_PCODE_UNKNOWN,
    ALIAS_PCODE_WRONG_LEVEL,
    REVIEW_NOT_OPEN,
    alias_create,
    match_names,
    review_dismiss,
    review_resolve,
)

from .gazetteer_fixtures import moz_gazetteer_fixture, pak_gazetteer_fixture  # noqa: F401


def test_undecided_names_go_to_the_review_list_once(pak_gazetteer):
    names = ["Sahiwal", "SAHIWAL", "Xyzzy", "Bagh", "Sahiwal"]
    results = match_names(country_iso3="PAK", level=3, names=names)
    assert [r.status for r in results] == ["ambiguous", "ambiguous", "unmatched", "exact", "ambiguous"]
    match_names(country_iso3="PAK", level=3, names=["sahiwal"])
    reviews = {r.normalized: r for r in MatchReview.objects.all()}
    assert set(reviews) == {"sahiwal", "xyzy"}
    assert reviews["sahiwal"].occurrences == 4
    assert reviews["sahiwal"].match_status == "ambiguous"
    assert {c["pcode"] for c in reviews["sahiwal"].candidates} == {"PK63102", "PK63203"}


def test_no_review_when_asked_not_to(pak_gazetteer):
    match_names(country_iso3="PAK", level=3, names=["Xyzzy"], record_review=False)
    assert not MatchReview.objects.exists()


def test_resolving_a_review_teaches_the_matcher(pak_gazetteer, data_manager):
    match_names(country_iso3="PAK", level=3, names=["Sahiwal"])
    review = MatchReview.objects.get()
    alias = review_resolve(review=review, pcode="PK63203", by=data_manager)
    assert (alias.pcode, alias.source, alias.normalized) == ("PK63203", "confirmed", "sahiwal")
    review.refresh_from_db()
    assert review.status == MatchReview.Status.RESOLVED
    assert review.chosen_pcode == "PK63203"
    assert review.resolved_by == data_manager
    assert AuditEntry.objects.filter(
        action="review.resolve", object_id=str(review.pk), user=data_manager
    ).exists()

    result = matcher_for("PAK", 3).match("Sahiwal")
    assert (result.status, result.pcode) == (MatchStatus.ALIAS, "PK63203")


def test_an_unmatched_name_resolved_under_its_parent(pak_gazetteer, data_manager):
    # Field teams call Muzaffarabad city tehsil "Muzaffarabad Sadar".
    [first] = match_names(country_iso3="PAK", level=3, names=["Muzaffarabad Sadar Xyz"], parents=["PK107"])
    assert not first.matched
    review = MatchReview.objects.get()
    assert review.parent_pcode == "PK107"
    review_resolve(review=review, pcode="PK10701", by=data_manager)
    assert (
        matcher_for("PAK", 3).match("Muzaffarabad Sadar Xyz", parent="Muzaffarabad").status
        == MatchStatus.ALIAS
    )
    # Under another parent the alias does not apply.
    assert not matcher_for("PAK", 3).match("Muzaffarabad Sadar Xyz", parent="PK101").matched


def test_a_pcode_at_the_wrong_level_is_refused(pak_gazetteer, data_manager):
    match_names(country_iso3="PAK", level=3, names=["Sahiwal"])
    review = MatchReview.objects.get()
    with pytest.raises(ValidationError) as exc:
        review_resolve(review=review, pcode="PK632", by=data_manager)
    assert exc.value.messages == [
        ALIAS_PCODE_WRONG_LEVEL.format(pcode="PK632", name="Sargodha", actual=2, level=3)
    ]
    review.refresh_from_db()
    assert review.status == MatchReview.Status.OPEN
    assert not AreaAlias.objects.exists()


def test_a_pcode_outside_the_parent_is_refused(pak_gazetteer, data_manager):
    match_names(country_iso3="PAK", level=3, names=["Xyzzy"], parents=["PK107"])
    review = MatchReview.objects.get()
    with pytest.raises(ValidationError) as exc:
        review_resolve(review=review, pcode="PK10101", by=data_manager)
    assert exc.value.messages == [ALIAS_PARENT_MISMATCH.format(pcode="PK10101", name="Bagh", parent="PK107")]


def test_an_unknown_pcode_is_refused(moz_gazetteer, data_manager):
    with pytest.raises(ValidationError) as exc:
        alias_create(country_iso3="MOZ", level=2, pcode="MZ9999", name="Nowhere", by=data_manager)
    assert exc.value.messages == [ALIAS_PCODE_UNKNOWN.format(pcode="MZ9999", country="MOZ")]


def test_dismissing_and_resolving_twice(moz_gazetteer, data_manager):
    match_names(country_iso3="MOZ", level=2, names=["unknown place"])
    review = MatchReview.objects.get()
    review_dismiss(review=review, by=data_manager)
    with pytest.raises(ValidationError) as exc:
        review_resolve(review=review, pcode="MZ0101", by=data_manager)
    assert exc.value.messages == [REVIEW_NOT_OPEN.format(name="unknown place", status="dismissed")]
    # Seen again: counted, still dismissed, not a second row.
    match_names(country_iso3="MOZ", level=2, names=["Unknown Place"])
    review.refresh_from_db()
    assert (review.status, review.occurrences, MatchReview.objects.count()) == ("dismissed", 2, 1)


def test_a_manual_alias_is_used(moz_gazetteer):
    alias_create(country_iso3="MOZ", level=2, pcode="MZ0101", name="Ankuabi")
    result = matcher_for("MOZ", 2).match("ANKUABI")
    assert (result.status, result.pcode) == (MatchStatus.ALIAS, "MZ0101")

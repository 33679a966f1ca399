"""Verifying presence: rounds for a site or an area, outcomes, status that follows, history, counts."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from mobility.core.models import AuditEntry
from mobility.registration import verification as v
from mobility.registration.models import AccessLog, Capability, Household, RecordStatus, Verification
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture  # noqa: F401
from tests.registration.assist_helpers import family, granted, site_make

D1, D2, D3 = dt.date(2026, 3, 2), dt.date(2026, 6, 1), dt.date(2026, 9, 1)


@pytest.fixture
def verifier(django_user_model, operation):
    return granted(django_user_model, operation, "verifier", capabilities=[Capability.VERIFY])


@pytest.fixture
def site(operation):
    return site_make(operation)


@pytest.fixture
def households(operation, site):
    return [family(operation, f"HH-{i}", site_code=site.code) for i in range(1, 4)]


def test_a_round_for_a_site_records_each_outcome_and_the_status_follows(
    operation, site, households, verifier
):
    round_ = v.round_open(
        operation=operation, name="Site 01 — March", site=site.code, started_on=D1, by=verifier
    )
    assert list(v.round_households(round_)) == households
    a, b, c = households
    v.verification_record(
        round=round_, household=a, outcome="present", verified_on=D1, members_present=3, by=verifier
    )
    v.verification_record(
        round=round_, household=b, outcome="moved", moved_to_pcode="MZ0106", verified_on=D1, by=verifier
    )
    v.verification_record(round=round_, household=c, outcome="not_found", verified_on=D1, by=verifier)
    statuses = dict(Household.objects.values_list("reference", "status"))
    assert statuses == {"HH-1": "active", "HH-2": "moved", "HH-3": "not_found"}
    assert Verification.objects.get(household=b).moved_to_pcode == "MZ0106"
    summary = v.round_summary(round_)
    assert (summary["present"], summary["moved"], summary["not_found"], summary["unverified"]) == (1, 1, 1, 0)


def test_recording_again_in_the_same_round_updates_and_a_later_present_reactivates(
    operation, site, households, verifier
):
    hh = households[0]
    march = v.round_open(operation=operation, name="March", site=site, started_on=D1, by=verifier)
    v.verification_record(round=march, household=hh, outcome="not_found", verified_on=D1, by=verifier)
    again = v.verification_record(round=march, household=hh, outcome="not_found", verified_on=D1, by=verifier)
    assert again.write_state == "unchanged"
    fixed = v.verification_record(round=march, household=hh, outcome="moved", verified_on=D1, by=verifier)
    assert fixed.write_state == "updated"
    assert Verification.objects.filter(household=hh).count() == 1
    hh.refresh_from_db()
    assert hh.status == RecordStatus.MOVED
    june = v.round_open(operation=operation, name="June", site=site, started_on=D2, by=verifier)
    v.verification_record(round=june, household=hh, outcome="present", verified_on=D2, by=verifier)
    hh.refresh_from_db()
    assert hh.status == RecordStatus.ACTIVE
    # History: both rounds kept, latest first.
    assert [x.round.name for x in v.household_history(hh)] == ["June", "March"]
    # Correcting the older round does not override the newer outcome.
    v.verification_record(round=march, household=hh, outcome="not_found", verified_on=D1, by=verifier)
    hh.refresh_from_db()
    assert hh.status == RecordStatus.ACTIVE


def test_a_round_for_an_area_covers_households_registered_anywhere_in_it(operation, moz_gazetteer, verifier):
    inside = family(operation, "HH-A", location_pcode="MZ010101")  # Ancuabe Sede, in Ancuabe (MZ0101)
    outside = family(operation, "HH-B", location_pcode="MZ010201")  # Balama Sede
    round_ = v.round_open(
        operation=operation, name="Ancuabe", area_pcode="mz0101", started_on=D1, by=verifier
    )
    assert round_.area_pcode == "MZ0101"
    assert list(v.round_households(round_)) == [inside]
    with pytest.raises(ValidationError) as exc:
        v.verification_record(round=round_, household=outside, outcome="present", verified_on=D1, by=verifier)
    assert exc.value.messages == [str(v.HOUSEHOLD_OUTSIDE_ROUND.format(reference="HH-B", place="MZ0101"))]
    with pytest.raises(ValidationError) as exc:
        v.verification_record(
            round=round_,
            household=inside,
            outcome="moved",
            moved_to_pcode="MZ9999",
            verified_on=D1,
            by=verifier,
        )
    assert exc.value.messages == [str(v.MOVED_TO_UNKNOWN.format(value="MZ9999", country="MOZ"))]
    with pytest.raises(ValidationError):
        v.round_open(operation=operation, name="Nowhere", area_pcode="MZ9999", started_on=D1, by=verifier)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"outcome": "present", "moved_to_pcode": "MZ0106"}, v.MOVED_TO_ONLY_WHEN_MOVED),
        ({"outcome": "gone"}, v.OUTCOME_UNKNOWN.format(value="gone", allowed="present, moved, not_found")),
        (
            {"outcome": "present", "verified_on": dt.date(2026, 2, 1)},
            v.VERIFIED_BEFORE_ROUND.format(date="2026-02-01", started=D1),
        ),
        ({"outcome": "present", "members_present": 400}, v.MEMBERS_PRESENT_RANGE.format(value=400)),
    ],
)
def test_bad_verifications_are_refused_with_a_clear_reason(
    operation, site, households, verifier, kwargs, message
):
    round_ = v.round_open(operation=operation, name="March", site=site, started_on=D1, by=verifier)
    with pytest.raises(ValidationError) as exc:
        v.verification_record(
            round=round_, household=households[0], by=verifier, **{"verified_on": D1, **kwargs}
        )
    assert exc.value.messages == [str(message)]
    assert not Verification.objects.exists()


def test_a_closed_round_takes_no_more_verifications(operation, site, households, verifier):
    round_ = v.round_open(operation=operation, name="March", site=site, started_on=D1, by=verifier)
    v.verification_record(
        round=round_, household=households[0], outcome="present", verified_on=D1, by=verifier
    )
    v.round_close(round=round_, by=verifier)
    assert round_.status == "closed" and round_.closed_on is not None
    with pytest.raises(ValidationError) as exc:
        v.verification_record(
            round=round_, household=households[1], outcome="present", verified_on=D1, by=verifier
        )
    assert exc.value.messages == [str(v.ROUND_CLOSED.format(name="March"))]
    close = AuditEntry.objects.get(action="registration.verification_round_close")
    assert close.detail["unverified"] == 2


def test_verifying_needs_the_verify_capability_and_is_logged(
    django_user_model, operation, site, households, verifier
):
    distributor = granted(django_user_model, operation, "dist", capabilities=[Capability.DISTRIBUTE])
    with pytest.raises(PermissionDenied):
        v.round_open(operation=operation, name="March", site=site, started_on=D1, by=distributor)
    assert AccessLog.objects.filter(user=distributor, action="denied").count() == 1
    round_ = v.round_open(operation=operation, name="March", site=site, started_on=D1, by=verifier)
    with pytest.raises(PermissionDenied):
        v.verification_record(
            round=round_, household=households[0], outcome="present", verified_on=D1, by=distributor
        )
    v.verification_record(
        round=round_, household=households[0], outcome="present", verified_on=D1, by=verifier
    )
    log = AccessLog.objects.get(user=verifier)
    assert (log.action, log.purpose, log.object_id) == ("edit", "verification", str(households[0].pk))


def test_reopening_a_round_of_the_same_name_and_place_returns_it(operation, site, verifier):
    first = v.round_open(operation=operation, name="March", site=site, started_on=D1, by=verifier)
    assert (
        v.round_open(operation=operation, name="March", site=site.code, started_on=D1, by=verifier) == first
    )
    with pytest.raises(ValidationError):
        v.round_open(operation=operation, name="March", area_pcode="MZ0101", started_on=D1, by=verifier)
    with pytest.raises(ValidationError) as exc:
        v.round_open(operation=operation, name="Both", started_on=D1, by=verifier)
    assert exc.value.messages == [str(v.ROUND_PLACE)]


def test_current_counts_follow_verification_by_admin2_and_by_site(operation, site, households, verifier):
    other = site_make(operation, "CD-SITE-02", name="Ntele", admin2="MZ0106")
    family(operation, "HH-9", site_code=other.code, children=0)
    round_ = v.round_open(operation=operation, name="March", site=site, started_on=D1, by=verifier)
    v.verification_record(round=round_, household=households[0], outcome="moved", verified_on=D1, by=verifier)
    rows = {
        (r["admin2_pcode"], r["status"]): (r["households"], r["individuals"])
        for r in v.registry_counts(operation)
    }
    assert rows == {("MZ0101", "active"): (2, 6), ("MZ0101", "moved"): (1, 3), ("MZ0106", "active"): (1, 1)}
    by_site = {
        (r["site_code"], r["status"]): r["households"] for r in v.registry_counts(operation, by="site")
    }
    assert by_site == {("CD-SITE-01", "active"): 2, ("CD-SITE-01", "moved"): 1, ("CD-SITE-02", "active"): 1}

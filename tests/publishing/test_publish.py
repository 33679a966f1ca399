"""Publishing a round: the disclosure check, release versions, cells with names, the round lifecycle, the CLI."""

from __future__ import annotations

import io
import re
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import override_settings

from mobility.core.models import AuditEntry, Round
from mobility.core.services import round_correct
from mobility.publishing import services
from mobility.publishing.cli_publish import NO_TTY
from mobility.publishing.models import PublishedCell, Release
from mobility.publishing.selectors import published_cells, release_list

from .conftest import new_round, write_round

pytestmark = pytest.mark.django_db


def test_the_check_writes_nothing_and_reports_the_small_part(validating_round):
    report = services.disclosure_check(round=validating_round)
    assert report.threshold == 5
    labels = {s.label: s.reason for s in report.suppressed}
    assert labels["IDP BA MZ0101 part natural_disaster from MZ01"] == "primary"
    assert any("protects IDP BA MZ0101 part natural_disaster" in s.why for s in report.suppressed)
    assert not Release.objects.exists() and not PublishedCell.objects.exists()


@override_settings(
    MOBILITY={"DISCLOSURE_THRESHOLD": 11, "AGE_BANDS": [(0, 4), (5, 11), (12, 17), (18, 59), (60, None)]}
)
def test_the_threshold_comes_from_settings(validating_round):
    assert services.disclosure_check(round=validating_round).threshold == 11


def test_publishing_creates_release_one_with_named_cells_and_publishes_the_round(
    validating_round, data_manager
):
    release = services.release_publish(round=validating_round, by=data_manager, source_note="test")
    validating_round.refresh_from_db()
    assert validating_round.status == Round.Status.PUBLISHED
    assert (release.version, release.status, release.threshold) == (1, Release.Status.CURRENT, 5)
    total = PublishedCell.objects.get(
        release=release, breakdown="", admin_level=2, admin2_code="MZ0101", location_code=""
    )
    assert (total.individuals, total.admin1_name, total.admin2_name, total.location_name) == (
        523,
        "Cabo Delgado",
        "Ancuabe",
        "Mozambique",
    )
    assert total.provider_admin1_name == "Cabo Delgado"
    assert (total.reference_period_start.isoformat(), total.reporting_date.isoformat()) == (
        "2026-01-01",
        "2026-01-28",
    )
    small = PublishedCell.objects.get(
        release=release, breakdown="reason", displacement_reason="natural_disaster"
    )
    assert (
        small.suppressed
        and small.individuals is None
        and small.males is None
        and small.suppression == "primary"
    )
    part = PublishedCell.objects.get(release=release, breakdown="reason", source_ref="dtm-1")
    assert part.individuals == 400 and part.origin_admin1_name == "Cabo Delgado"
    bands = PublishedCell.objects.filter(release=release, breakdown="sex_age", admin2_code="MZ0102")
    assert {b.band: b.individuals for b in bands}["male_60+"] is None  # 1 person: suppressed
    assert release.disclosure_report["suppressed_total"] >= 2
    entry = AuditEntry.objects.get(action="release.publish")
    assert entry.user == data_manager and entry.detail["version"] == 1


def test_publishing_from_planned_or_collecting_is_refused(operation, moz_gazetteer):
    for status in (Round.Status.PLANNED, Round.Status.COLLECTING):
        round_ = write_round(new_round(operation, number=7 if status == "planned" else 8, status=status))
        with pytest.raises(ValidationError) as exc:
            services.release_publish(round=round_)
        assert exc.value.messages == [
            services.ROUND_NOT_READY.format(number=round_.number, status=round_.get_status_display().lower())
        ]
    assert not Release.objects.exists()


def test_republishing_needs_a_change_note_and_supersedes_the_current_release(validating_round):
    first = services.release_publish(round=validating_round)
    with pytest.raises(ValidationError) as exc:
        services.release_publish(round=validating_round)
    assert exc.value.messages == [services.CHANGE_NOTE_REQUIRED.format(number=1, version=1, next=2)]
    second = services.release_publish(round=validating_round, change_note="Threshold raised", threshold=10)
    first.refresh_from_db()
    assert (first.status, second.version, second.status) == (
        Release.Status.SUPERSEDED,
        2,
        Release.Status.CURRENT,
    )
    assert list(release_list(operation=validating_round.operation)) == [second]
    assert not published_cells().filter(release=first).exists()


def test_a_correction_round_publishes_the_next_version_with_its_reason(validating_round):
    services.release_publish(round=validating_round)
    correction = round_correct(round=validating_round, reason="Ancuabe figure was double-entered")
    write_round(correction, parts=[(["MZ01", "MZ0101"], "conflict", "MZ01", 500, 250, 250, "x")])
    release = services.release_publish(round=correction)
    validating_round.refresh_from_db()
    assert validating_round.status == Round.Status.SUPERSEDED
    assert (release.version, release.change_note) == (2, "Ancuabe figure was double-entered")
    assert published_cells(admin_level=0).get().individuals == 500
    with pytest.raises(ValidationError) as exc:
        services.release_publish(round=validating_round, change_note="again")
    assert exc.value.messages == [services.ROUND_SUPERSEDED.format(number=1, version=1)]


def test_a_site_below_the_threshold_is_rolled_up_and_its_area_protected(operation, moz_gazetteer):
    round_ = write_round(
        new_round(operation), sites=[(["MZ01", "MZ0104"], "SITE-1", 3), (["MZ01", "MZ0104"], "SITE-2", 40)]
    )
    release = services.release_publish(round=round_)
    site1 = PublishedCell.objects.get(release=release, location_code="SITE-1")
    site2 = PublishedCell.objects.get(release=release, location_code="SITE-2")
    assert (site1.individuals, site1.suppression) == (None, "rollup")
    assert (site2.individuals, site2.suppression) == (None, "secondary")
    area = PublishedCell.objects.get(release=release, assessment_type="SA", admin_level=2, location_code="")
    assert area.individuals == 43  # the area total stays: two suppressed sites cannot be told apart


def test_not_confirmed_publishes_nothing(validating_round):
    assert services.release_publish(round=validating_round, confirm=False) is None
    assert not Release.objects.exists()


# --- the CLI -------------------------------------------------------------------------------------


def run(*args, stdin=None):
    out = io.StringIO()
    if stdin is None:
        call_command("tracking", "publish", *args, stdout=out)
    else:
        with mock.patch("sys.stdin", stdin):
            call_command("tracking", "publish", *args, stdout=out)
    return out.getvalue()


def test_cli_prints_the_report_and_publishes_with_yes(validating_round, operation):
    out = run("--operation", operation.name, "--round", "1", "--yes")
    assert "Disclosure check — threshold 5" in out
    assert "primary" in out and "natural_disaster" in out
    assert "release version 1" in out
    assert Release.objects.get().version == 1


class NotATerminal(io.StringIO):
    def isatty(self):
        return False


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_cli_without_a_terminal_and_without_yes_publishes_nothing(validating_round, operation):
    with pytest.raises(CommandError, match=NO_TTY):
        run("--operation", operation.slug, "--round", "1", stdin=NotATerminal())
    assert not Release.objects.exists()


def test_cli_asks_and_accepts_y(validating_round, operation):
    out = run("--operation", operation.slug, "--round", "1", "--threshold", "3", stdin=Terminal("y\n"))
    assert "Publish this round?" in out and Release.objects.get().threshold == 3


def test_cli_answer_no_publishes_nothing(validating_round, operation):
    with pytest.raises(CommandError, match=re.escape(services.NOT_CONFIRMED)):
        run("--operation", operation.slug, "--round", "1", stdin=Terminal("n\n"))
    assert not Release.objects.exists()


def test_cli_refuses_a_collecting_round(operation, moz_gazetteer):
    write_round(new_round(operation, status=Round.Status.COLLECTING))
    with pytest.raises(CommandError, match="move it to validating"):
        run("--operation", operation.slug, "--round", "1", "--yes")

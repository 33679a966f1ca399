"""An event above a size or in a watched area raises an alert once, and e-mails the rule's subscribers without personal data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command

from mobility.core import imports
from mobility.core.models import Membership, Role
from mobility.tracking.events import (
    ALERT_ALREADY_ACKNOWLEDGED,
    ALERT_RULE_EMPTY,
    ALERT_RULE_PCODE_UNKNOWN,
    ALERT_SUBSCRIBER_NOT_MEMBER,
    alert_acknowledge,
    alert_rule_create,
    alert_rule_delete,
    alerts_evaluate,
    event_upsert,
    movement_upsert,
    open_alerts,
)
from mobility.tracking.importers.events import EVENTS_KIND
from mobility.tracking.models import Alert
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture  # noqa: F401

pytestmark = pytest.mark.django_db
SAMPLE = Path(__file__).parent / "data" / "ett_moz_cabo_delgado.csv"


@pytest.fixture
def subscriber(data_manager):
    data_manager.email = "imo@example.org"
    data_manager.save()
    return data_manager


def import_sample(operation, capture):
    with capture(execute=True):
        job = imports.run(imports.job_create(kind=EVENTS_KIND, source=SAMPLE, operation=operation))
    assert job.status == "succeeded", job.error
    return job


def test_a_large_event_raises_one_alert_and_one_email(
    operation, moz_gazetteer, subscriber, django_capture_on_commit_callbacks
):
    rule = alert_rule_create(operation=operation, min_individuals=1000, subscribers=[subscriber])
    job = import_sample(operation, django_capture_on_commit_callbacks)
    assert job.summary["alerts_created"] == 1
    alert = Alert.objects.get()
    assert (alert.event.code, alert.rule) == ("MOZ-ETT-2026-031", rule)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.bcc == ["imo@example.org"] and message.to == []
    assert (
        "2026-02-03" in message.subject
        and "2365" in message.subject
        and "Mocimboa Da Praia" in message.subject
    )
    assert "Individuals who moved: 2365" in message.body
    # No personal data: no user name, e-mail address or description text in the message.
    assert "imo" not in message.body.replace("Mobility", "") and "Mbau posto" not in message.body


def test_reimporting_never_duplicates_alerts_or_emails(
    operation, moz_gazetteer, subscriber, django_capture_on_commit_callbacks
):
    alert_rule_create(operation=operation, min_individuals=1000, subscribers=[subscriber])
    import_sample(operation, django_capture_on_commit_callbacks)
    job = import_sample(operation, django_capture_on_commit_callbacks)
    assert job.summary["alerts_created"] == 0
    assert Alert.objects.count() == 1 and len(mail.outbox) == 1


def test_a_watched_area_alerts_on_any_event_in_it_or_under_it(
    operation, moz_gazetteer, django_capture_on_commit_callbacks
):
    province = alert_rule_create(operation=operation, watched_pcode="MZ01")
    montepuez = alert_rule_create(operation=operation, watched_pcode="MZ0111")
    both = alert_rule_create(operation=operation, watched_pcode="MZ0111", min_individuals=1000)
    import_sample(operation, django_capture_on_commit_callbacks)
    assert Alert.objects.filter(rule=province).count() == 4
    assert list(Alert.objects.filter(rule=montepuez).values_list("event__code", flat=True)) == [
        "MOZ-ETT-2026-033"
    ]
    assert not Alert.objects.filter(rule=both).exists()  # both conditions must hold
    assert len(mail.outbox) == 0  # nobody subscribed


def test_an_event_that_grows_past_the_threshold_alerts_then(
    operation, moz_gazetteer, django_capture_on_commit_callbacks
):
    rule = alert_rule_create(operation=operation, min_individuals=100)
    event, _ = event_upsert(
        operation=operation, code="E1", event_type="fire", date=dt.date(2026, 5, 1), admin1_code="MZ01"
    )
    movement_upsert(event=event, code="1", individuals=60)
    assert alerts_evaluate(events=[event]) == []
    movement_upsert(event=event, code="2", individuals=60)
    with django_capture_on_commit_callbacks(execute=True):
        alerts = alerts_evaluate(events=[event])
    assert [a.rule for a in alerts] == [rule]
    assert "120 individuals" in alerts[0].reason and "at least 100" in alerts[0].reason


def test_rules_are_validated(operation, moz_gazetteer, outsider):
    with pytest.raises(ValidationError) as exc:
        alert_rule_create(operation=operation)
    assert exc.value.messages == [ALERT_RULE_EMPTY]
    with pytest.raises(ValidationError) as exc:
        alert_rule_create(operation=operation, watched_pcode="MZ9999")
    assert exc.value.messages == [ALERT_RULE_PCODE_UNKNOWN.format(pcode="MZ9999", country="MOZ")]
    with pytest.raises(ValidationError) as exc:
        alert_rule_create(operation=operation, min_individuals=5, subscribers=[outsider])
    assert exc.value.messages == [ALERT_SUBSCRIBER_NOT_MEMBER.format(username="outsider")]
    assert alert_rule_create(operation=operation, watched_pcode="MOZ").watched_pcode == "MOZ"


def test_acknowledging_closes_an_alert_once(
    operation, moz_gazetteer, data_manager, viewer, outsider, django_capture_on_commit_callbacks
):
    alert_rule_create(operation=operation, min_individuals=1000)
    import_sample(operation, django_capture_on_commit_callbacks)
    assert len(open_alerts(operation=operation, user=viewer)) == 1
    assert open_alerts(operation=operation, user=outsider) == []
    alert = Alert.objects.get()
    alert_acknowledge(alert=alert, by=data_manager)
    with pytest.raises(ValidationError) as exc:
        alert_acknowledge(alert=alert, by=data_manager)
    assert exc.value.messages == [ALERT_ALREADY_ACKNOWLEDGED]
    assert open_alerts(operation=operation, user=viewer) == []


def test_deleting_a_rule_deletes_its_alerts(operation, moz_gazetteer, django_capture_on_commit_callbacks):
    rule = alert_rule_create(operation=operation, min_individuals=1)
    import_sample(operation, django_capture_on_commit_callbacks)
    assert Alert.objects.count() == 4
    alert_rule_delete(rule=rule)
    assert Alert.objects.count() == 0


def test_the_cli_imports_a_report_and_lists_open_alerts(operation, moz_gazetteer, capsys):
    alert_rule_create(operation=operation, min_individuals=1000)
    call_command("tracking", "events", "import", str(SAMPLE), "--operation", operation.slug, "--quiet")
    out = capsys.readouterr().out
    assert "created 6" in out and "alerts raised 1" in out
    call_command("tracking", "events", "alerts", "--operation", operation.name)
    out = capsys.readouterr().out
    assert (
        "1 open alert(s)" in out and "MOZ-ETT-2026-031\tconflict\t2026-02-03" in out and "\t2365\topen" in out
    )


def test_the_cli_reports_row_errors(operation, moz_gazetteer, tmp_path, capsys):
    from django.core.management.base import CommandError

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "event_code,event_type,event_date,individuals,from_admin2_code\nE1,Meteor,2026-01-01,5,MZ0110\n"
    )
    with pytest.raises(CommandError):
        call_command("tracking", "events", "import", str(bad), "--operation", operation.slug, "--quiet")
    assert 'row 2, column event_type: "Meteor" is not an event type' in capsys.readouterr().out


def test_viewers_of_other_operations_are_not_subscribable(operation, django_user_model):
    user = django_user_model.objects.create_user(username="newcomer", password="x-long-password-1")
    Membership.objects.create(user=user, operation=operation, role=Role.VIEWER)
    rule = alert_rule_create(operation=operation, min_individuals=10, subscribers=[user])
    assert list(rule.subscribers.all()) == [user]


def test_open_alerts_show_on_the_dashboard_for_members_only(client, operation, data_manager, admin_user):
    """An alert raised by ETT appears on the operation's dashboard for members, never for the public."""
    import datetime as dt

    from mobility.tracking.events import alert_rule_create, alerts_evaluate, event_upsert, movement_upsert

    alert_rule_create(operation=operation, min_individuals=100, subscribers=[admin_user])
    event, _ = event_upsert(
        operation=operation,
        code="DASH-1",
        event_type="conflict",
        date=dt.date(2026, 2, 3),
        country_iso3="MOZ",
    )
    movement_upsert(event=event, code="1", individuals=250)
    assert alerts_evaluate(events=[event])
    client.force_login(data_manager)
    assert "DASH-1" in client.get(f"/tracking/{operation.slug}/").content.decode()
    client.logout()
    assert "DASH-1" not in client.get(f"/tracking/{operation.slug}/").content.decode()

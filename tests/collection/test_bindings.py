"""Binding a form to a target: the mapping is checked against the target's columns and the form's fields."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from mobility.collection.bindings import (
    BINDING_COLUMN_UNKNOWN,
    BINDING_FIELD_UNKNOWN,
    BINDING_MAPPED_TWICE,
    BINDING_REQUIRED,
    BINDING_TARGET_UNKNOWN,
    BINDING_TWO_REPEATS,
    binding_current,
    binding_save,
)
from mobility.collection.models import Binding, Submission
from mobility.collection.processing import submission_process
from mobility.collection.services import form_publish, submission_receive
from mobility.core.models import AuditEntry
from mobility.core.services import round_create
from mobility.tracking.models import PopulationFigure
from mobility.tracking.profiles import ROUND_UNKNOWN
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture  # noqa: F401

from .forms import instance_xml, simple_xlsform, xlsform

pytestmark = pytest.mark.django_db

# The household visit form counts people; its place and group are the same for every visit here.
MAPPING = {"individuals": "people"}
CONSTANTS = {"round": 1, "population_group": "IDP", "admin1_code": "MZ01", "admin2_code": "MZ0101"}


@pytest.fixture
def round1(operation):
    return round_create(
        operation=operation, number=1, start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 1, 31)
    )


@pytest.fixture
def form(operation, round1):
    return form_publish(operation=operation, data=simple_xlsform(), filename="household_visit.xlsx").form


def test_a_changed_mapping_is_a_new_version_and_the_same_one_is_returned(form, data_manager):
    first = binding_save(
        form=form, target="tracking.template", mapping=MAPPING, constants=CONSTANTS, by=data_manager
    )
    again = binding_save(
        form=form, target="tracking.template", mapping=dict(MAPPING), constants=dict(CONSTANTS)
    )
    assert again.pk == first.pk and first.version == 1
    changed = binding_save(
        form=form,
        target="tracking.template",
        mapping={**MAPPING, "households": "people"},
        constants=CONSTANTS,
    )
    assert changed.version == 2 and binding_current(form) == changed
    first.refresh_from_db()
    assert not first.active and Binding.objects.filter(form=form).count() == 2
    assert AuditEntry.objects.filter(action="collection.binding_save").count() == 2


def test_a_question_name_stands_for_its_path(operation, round1):
    data = xlsform(
        [
            ["type", "name", "label"],
            ["begin_group", "place", "Place"],
            ["text", "district", "District"],
            ["end_group", "place", ""],
            ["begin_repeat", "groups", "Groups"],
            ["integer", "people", "People"],
            ["end_repeat", "groups", ""],
        ],
        settings={"form_id": "grouped", "version": "1"},
    )
    form = form_publish(operation=operation, data=data, filename="grouped.xlsx").form
    binding = binding_save(
        form=form,
        target="tracking.template",
        mapping={"admin2_code": "district", "individuals": "${people}"},
        constants={"round": 1, "population_group": "IDP"},
    )
    assert binding.mapping == {"admin2_code": "place/district", "individuals": "groups/people"}


def test_every_problem_of_a_mapping_is_named_at_once(form):
    with pytest.raises(ValidationError) as raised:
        binding_save(
            form=form,
            target="tracking.template",
            mapping={"people_count": "people", "individuals": "persons", "population_group": "displaced"},
            constants={"population_group": "IDP"},
        )
    messages = raised.value.messages
    assert messages[0].startswith(
        BINDING_COLUMN_UNKNOWN.format(column="people_count", target="tracking.template", allowed="")[:40]
    )
    assert BINDING_FIELD_UNKNOWN.format(column="individuals", path="persons") in messages
    assert BINDING_MAPPED_TWICE.format(column="population_group") in messages
    assert BINDING_REQUIRED.format(target="tracking.template", what="round") in messages
    assert not Binding.objects.exists()


def test_the_round_must_exist_and_the_target_be_known(form, operation):
    with pytest.raises(ValidationError) as raised:
        binding_save(
            form=form, target="tracking.template", mapping=MAPPING, constants={**CONSTANTS, "round": 9}
        )
    assert raised.value.messages == [ROUND_UNKNOWN.format(operation=operation.name, number=9)]
    with pytest.raises(ValidationError) as raised:
        binding_save(form=form, target="health.cases", mapping=MAPPING, constants=CONSTANTS)
    assert raised.value.messages[0].startswith(
        BINDING_TARGET_UNKNOWN.format(target="health.cases", allowed="")[:30]
    )


def test_a_mapping_reads_one_repeat_at_most(operation, round1):
    data = xlsform(
        [
            ["type", "name", "label"],
            ["begin_repeat", "households", "Households"],
            ["integer", "people", "People"],
            ["end_repeat", "households", ""],
            ["begin_repeat", "visits", "Visits"],
            ["text", "village", "Village"],
            ["end_repeat", "visits", ""],
        ],
        settings={"form_id": "two_repeats", "version": "1"},
    )
    form = form_publish(operation=operation, data=data, filename="two_repeats.xlsx").form
    with pytest.raises(ValidationError) as raised:
        binding_save(
            form=form,
            target="tracking.template",
            mapping={"individuals": "households/people", "site_code": "visits/village"},
            constants={"round": 1, "population_group": "IDP"},
        )
    assert raised.value.messages == [BINDING_TWO_REPEATS.format(first="households", second="visits")]


def test_a_custom_form_bound_to_the_template_makes_assessments(
    form, operation, moz_gazetteer, enumerator, django_capture_on_commit_callbacks
):
    binding_save(form=form, target="tracking.template", mapping=MAPPING, constants=CONSTANTS)
    with django_capture_on_commit_callbacks(execute=True):
        received = submission_receive(
            operation=operation, raw=instance_xml("uuid:h1", people=7), by=enumerator
        )
    submission = Submission.objects.get(pk=received.submission.pk)
    assert submission.status == Submission.Status.PROCESSED, submission.error
    assert PopulationFigure.objects.get().individuals == 7
    # The personal field (respondent_name) is never part of what was imported.
    assert b"Amina" not in submission.import_job.file.read()
    bad = submission_receive(
        operation=operation, raw=instance_xml("uuid:h2", people=-3), by=enumerator
    ).submission
    bad = submission_process(bad)
    assert bad.error == 'row 1, column individuals (form field people): "-3" is negative'

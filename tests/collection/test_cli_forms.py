"""`mobility collection publish-form` and `reprocess`: thin commands over the services, with clear failures."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mobility.collection.cli_forms import FILE_OR_BUILTIN
from mobility.collection.cli_process import FORM_NOT_BOUND
from mobility.collection.models import Form, MediaFile, Submission
from mobility.collection.services import submission_receive
from mobility.core.services import round_create
from tests.collection.test_processing import baseline_xml, cached_conversion, group  # noqa: F401
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture  # noqa: F401

from .forms import simple_xlsform, xlsform

pytestmark = pytest.mark.django_db


def test_publish_form_prints_the_form_id_and_version_and_attaches_media(operation, tmp_path, capsys):
    path = tmp_path / "household_visit.xlsx"
    path.write_bytes(simple_xlsform(version="2026112502"))
    villages = tmp_path / "villages.csv"
    villages.write_text("name,label\nMZ0101-S001,Nanjua\n", encoding="utf-8")
    call_command(
        "collection", "publish-form", str(path), "--operation", operation.slug, "--media", str(villages)
    )
    out = capsys.readouterr().out
    assert "form household_visit version 2026112502" in out and "media: villages.csv" in out
    version = Form.objects.get(xml_form_id="household_visit").current_version
    assert version.version == "2026112502"
    assert list(MediaFile.objects.filter(version=version).values_list("name", flat=True)) == ["villages.csv"]


def test_publish_form_fails_with_pyxforms_own_message(operation, tmp_path):
    from pyxform import xls2xform
    from pyxform.errors import PyXFormError

    path = tmp_path / "broken.xlsx"
    path.write_bytes(
        xlsform(
            [["type", "name", "label"], ["select_one district_list", "district", "District"]],
            [["list_name", "name", "label"], ["yesno", "yes", "Yes"]],
            {"form_id": "broken", "version": "1"},
        )
    )
    with pytest.raises(PyXFormError) as pyxform_error:
        xls2xform.convert(xlsform=str(path), warnings=[])
    with pytest.raises(CommandError) as raised:
        call_command("collection", "publish-form", str(path), "--operation", operation.slug)
    assert str(pyxform_error.value) in str(raised.value)
    assert not Form.objects.exists()


def test_publish_form_needs_a_file_or_a_builtin(operation):
    with pytest.raises(CommandError, match=re.escape(FILE_OR_BUILTIN)):
        call_command("collection", "publish-form", "--operation", operation.slug)


@pytest.mark.usefixtures("cached_conversion")
def test_a_ready_made_form_is_published_bound_and_reprocessed(operation, moz_gazetteer, capsys):
    round_create(operation=operation, number=2, start_date=dt.date(2026, 2, 1), end_date=dt.date(2026, 2, 28))
    call_command("collection", "publish-form", "--builtin", "baseline", "--operation", operation.name)
    out = capsys.readouterr().out
    assert "form mobility_baseline version" in out and "admin1.csv, admin2.csv, admin3.csv" in out
    assert "bound to tracking.template (binding version 1, round 2)" in out
    submission_receive(operation=operation, raw=baseline_xml("uuid:c1", groups=[group()]))
    submission_receive(
        operation=operation,
        raw=baseline_xml("uuid:c2", groups=[group(individuals=-3)], place=("MZ01", "MZ0102", "MZ010201")),
    )
    call_command("collection", "reprocess", "mobility_baseline", "--operation", operation.slug, "--quiet")
    out = capsys.readouterr().out
    assert "2 submission(s), processed 1, needs attention 1" in out and "rows created 1" in out
    call_command("collection", "reprocess", "mobility_baseline", "--operation", operation.slug, "--quiet")
    assert "rows created 0, updated 0, unchanged 1, removed 0" in capsys.readouterr().out
    assert Submission.objects.filter(status="attention").count() == 1


def test_reprocess_needs_a_bound_form(operation, tmp_path):
    path = tmp_path / "household_visit.xlsx"
    path.write_bytes(simple_xlsform())
    call_command("collection", "publish-form", str(path), "--operation", operation.slug)
    with pytest.raises(CommandError, match=re.escape(FORM_NOT_BOUND.format(form="household_visit"))):
        call_command("collection", "reprocess", "household_visit", "--operation", operation.slug)
    with pytest.raises(CommandError, match='No form "nope"'):
        call_command("collection", "reprocess", "nope", "--operation", operation.slug)

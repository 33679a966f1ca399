"""The ready-made tracking forms: they convert with pyxform, their admin lists cascade, they come bound."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.core.exceptions import ValidationError
from openpyxl import load_workbook

from mobility.collection.bindings import binding_validate
from mobility.collection.builtin_forms import (
    BUILTIN_NO_GAZETTEER,
    BUILTIN_NO_ROUND,
    BUILTINS,
    LANGUAGES,
    admin_media,
    builtin_publish,
)
from mobility.collection.models import MediaFile
from mobility.collection.xforms import xlsform_convert
from mobility.core.services import round_create
from mobility.gazetteer.models import AdminArea
from tests.collection.test_processing import cached_conversion  # noqa: F401
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture, pak_gazetteer_fixture  # noqa: F401

KEYS = sorted(BUILTINS)
PCODE = re.compile(r"^[A-Z]{2}\d{2,}$")


@pytest.fixture(scope="module")
def converted():
    """Each ready-made workbook converted once (pyxform runs ODK Validate: about a second each)."""
    return {key: xlsform_convert(spec.workbook_bytes(), spec.filename) for key, spec in BUILTINS.items()}


@pytest.mark.parametrize("key", KEYS)
def test_the_committed_workbook_is_the_one_described_here(key):
    spec = BUILTINS[key]
    assert spec.path.exists(), f"run python -m mobility.collection.builtin_forms to write {spec.filename}"
    book = load_workbook(spec.path, read_only=True)
    for title, rows in spec.sheets().items():
        stored = [[("" if v is None else v) for v in row] for row in book[title].iter_rows(values_only=True)]
        assert stored == rows, f"{spec.filename} sheet {title} differs: regenerate it and bump the version"


@pytest.mark.parametrize("key", KEYS)
def test_the_workbooks_hold_no_country_data(key):
    book = load_workbook(BUILTINS[key].path, read_only=True)
    cells = [
        v for sheet in book for row in sheet.iter_rows(values_only=True) for v in row if isinstance(v, str)
    ]
    assert not [v for v in cells if PCODE.match(v)]


@pytest.mark.parametrize("key", KEYS)
def test_each_form_converts_in_three_languages_with_meta_gps_and_cascades(key, converted):
    form = converted[key]
    assert form.warnings == []
    assert set(LANGUAGES) <= set(form.languages)
    types = {f["path"]: f["type"] for f in form.fields}
    assert {"start", "end", "deviceid"} <= set(types) and "geopoint" in types.values()
    for name in ("admin1", "admin2", "admin3"):
        assert f'<instance id="{name}" src="jr://file-csv/{name}.csv"/>' in form.xml
    # admin2 is filtered by the chosen admin1, admin3 by the chosen admin2.
    assert re.search(r"instance\('admin2'\)/root/item\[admin1= [^\]]*admin1 \]", form.xml)
    assert re.search(r"instance\('admin3'\)/root/item\[admin2= [^\]]*admin2 \]", form.xml)
    labelled = [f for f in form.fields if f["labels"]]
    assert all(set(LANGUAGES) <= set(f["labels"]) for f in labelled)


@pytest.mark.parametrize("key", KEYS)
def test_every_mapped_field_is_in_the_form(key, converted):
    paths = {f["path"] for f in converted[key].fields}
    assert set(BUILTINS[key].mapping.values()) <= paths


@pytest.mark.django_db
@pytest.mark.parametrize("country, fixture", [("MOZ", "moz_gazetteer"), ("PAK", "pak_gazetteer")])
def test_the_admin_lists_cascade_from_the_current_gazetteer(country, fixture, request):
    request.getfixturevalue(fixture)
    media = admin_media(country)
    tables = {
        name: list(csv.DictReader(io.StringIO(data.decode("utf-8")))) for name, data in sorted(media.items())
    }
    assert list(tables["admin1.csv"][0]) == ["name", "label"]
    assert list(tables["admin2.csv"][0]) == ["name", "label", "admin1"]
    assert list(tables["admin3.csv"][0]) == ["name", "label", "admin1", "admin2"]
    for level in (1, 2, 3):
        rows = tables[f"admin{level}.csv"]
        expected = AdminArea.objects.filter(version__is_current=True, country_iso3=country, level=level)
        assert len(rows) == expected.count()
    admin1 = {r["name"] for r in tables["admin1.csv"]}
    admin2 = {r["name"]: r["admin1"] for r in tables["admin2.csv"]}
    assert set(admin2.values()) <= admin1
    assert all(admin2[r["admin2"]] == r["admin1"] for r in tables["admin3.csv"])


@pytest.mark.django_db
def test_the_cascade_holds_real_names(moz_gazetteer):
    rows = list(csv.DictReader(io.StringIO(admin_media("MOZ")["admin3.csv"].decode("utf-8"))))
    sede = next(r for r in rows if r["name"] == "MZ010101")
    assert sede == {"name": "MZ010101", "label": "Ancuabe Sede", "admin1": "MZ01", "admin2": "MZ0101"}


@pytest.mark.django_db
@pytest.mark.usefixtures("cached_conversion")
@pytest.mark.parametrize("key", KEYS)
def test_publishing_a_ready_made_form_attaches_its_lists_and_binds_it(key, operation, moz_gazetteer):
    round_create(operation=operation, number=4, start_date=dt.date(2026, 4, 1), end_date=dt.date(2026, 4, 30))
    published = builtin_publish(operation=operation, key=key)
    spec = BUILTINS[key]
    assert (published.version.form.xml_form_id, published.version.version) == (spec.form_id, spec.version)
    assert sorted(MediaFile.objects.filter(version=published.version).values_list("name", flat=True)) == [
        "admin1.csv",
        "admin2.csv",
        "admin3.csv",
    ]
    binding = published.binding
    assert binding.target == spec.target and binding.mapping == spec.mapping
    assert binding.constants == ({"round": 4} if spec.needs_round else {})
    binding_validate(
        form=published.version.form,
        target=binding.target,
        mapping=binding.mapping,
        constants=binding.constants,
    )
    again = builtin_publish(operation=operation, key=key)
    assert (again.version.pk, again.binding.pk) == (published.version.pk, published.binding.pk)
    assert MediaFile.objects.count() == 3


@pytest.mark.django_db
def test_a_ready_made_form_needs_the_gazetteer_and_an_open_round(operation, moz_gazetteer, other_operation):
    with pytest.raises(ValidationError) as raised:
        builtin_publish(operation=other_operation, key="baseline", round_number=1)
    assert raised.value.messages == [BUILTIN_NO_GAZETTEER.format(country="PAK")]
    with pytest.raises(ValidationError) as raised:
        builtin_publish(operation=operation, key="baseline")
    assert raised.value.messages == [BUILTIN_NO_ROUND.format(operation=operation.name)]

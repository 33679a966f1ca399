"""`mobility gazetteer import FILE` guesses the format, shows counts and the version, and fails loudly."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mobility.gazetteer.cli_import import guess_format
from mobility.gazetteer.models import AdminArea, GazetteerVersion
from tests.conftest import DEMO_DATA

pytestmark = pytest.mark.django_db


def mobility(*args) -> str:
    out = StringIO()
    call_command("gazetteer", "import", *args, "--quiet", stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("pak.csv", "ADM0_EN,ADM0_PCODE\nPakistan,PK\n", "cod"),
        (
            "global.csv",
            "\ufeffLocation,Admin Level,P-Code,Name,Parent P-Code,Valid from date\n",
            "global-pcodes",
        ),
        ("shapes.geojson", '{"type": "FeatureCollection", "features": []}', "geojson"),
        ("shapes.txt", '  {"type": "FeatureCollection"}', "geojson"),
    ],
)
def test_format_is_guessed(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert guess_format(path) == expected


def test_import_prints_counts_version_and_changes():
    out = mobility(
        str(DEMO_DATA / "pak_adm0-3_pcodes_ocha.csv"), "--edition", "COD 2022", "--valid-from", "2022-10-01"
    )

    assert "rows read 577, created 745, updated 0, unchanged 0, rejected 0" in out
    assert "PAK: new version 'COD 2022' (valid from 2022-10-01, 745 areas): 745 added" in out

    out = mobility(str(DEMO_DATA / "pak_tehsils_simplified.geojson"))
    assert "577 boundaries joined by p-code in property 'tehsil_code' (admin3)" in out
    assert AdminArea.objects.exclude(geometry="").count() == 577


def test_failed_import_lists_row_errors_and_exits_non_zero(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("ADM0_EN,ADM0_PCODE,ADM1_EN,ADM1_PCODE\nPakistan,PK,,PK1\n", encoding="utf-8")
    out = StringIO()

    with pytest.raises(CommandError, match="nothing was stored"):
        call_command("gazetteer", "import", str(path), "--quiet", stdout=out)

    assert "row 2, column ADM1_EN: the admin1 name is empty (p-code PK1)." in out.getvalue()
    assert GazetteerVersion.objects.count() == 0


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        mobility(str(tmp_path / "nope.csv"))

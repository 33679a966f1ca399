"""`mobility registration import`: a list imported on behalf of a granted user, from the command line."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from mobility.registration.access import NO_GRANT
from mobility.registration.cli_import import USER_NEEDED
from mobility.registration.importers.template import TEMPLATE_PATH, template_download
from mobility.registration.models import Household, Individual
from mobility.registration.records import TEMPLATE_COLUMNS
from tests.registration.factories import household_rows
from tests.registration.importing import registrar_fixture, write_file  # noqa: F401

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("registration", "import", *args, "--quiet", stdout=out)
    return out.getvalue()


def test_the_command_imports_a_list_for_a_granted_user(operation, registrar, tmp_path):
    rows = household_rows("HH-1", members=[{"given_name": "Ali"}]) + household_rows("HH-2")
    keyed = [{**r, "Nome": r.pop("given_name", "")} for r in rows]
    path = write_file(tmp_path / "list.csv", keyed, columns=[*TEMPLATE_COLUMNS, "Nome"])
    args = [
        str(path),
        "--operation",
        operation.slug,
        "--user",
        registrar.username,
        "--map",
        "given_name=Nome",
    ]
    out = run(*args)
    assert "rows read 3, created 2, updated 0, unchanged 0, rejected 0" in out
    assert "individuals: 3 created, 0 updated, 0 unchanged" in out
    assert Individual.objects.get(reference="HH-1-2").given_name == "Ali"
    assert "households: 0 created, 0 updated, 2 unchanged" in run(*args)


def test_the_command_refuses_a_user_without_the_grant(operation, data_manager, tmp_path):
    path = write_file(tmp_path / "list.csv", household_rows("HH-1"))
    with pytest.raises(CommandError, match=re.escape(NO_GRANT.format(capability="register"))):
        run(str(path), "--operation", operation.slug, "--user", data_manager.username)
    with pytest.raises(CommandError, match=re.escape(USER_NEEDED)):
        run(str(path), "--operation", operation.slug)
    assert not Household.objects.exists()


def test_the_command_names_each_bad_row(operation, registrar, tmp_path):
    rows = household_rows("HH-1", head={"relationship": "spouse"})
    path = write_file(tmp_path / "list.csv", rows)
    out = io.StringIO()
    with pytest.raises(CommandError, match="nothing was stored"):
        call_command(
            "registration",
            "import",
            str(path),
            "--operation",
            operation.slug,
            "--user",
            "imo",
            "--quiet",
            stdout=out,
        )
    assert "row 2, column relationship: household HH-1 has no head" in out.getvalue()


def test_the_template(tmp_path, data_manager):
    target = tmp_path / "template.csv"
    run("--template", str(target))
    assert target.read_text(encoding="utf-8-sig").strip().split(",") == TEMPLATE_COLUMNS
    request = RequestFactory().get("/registration/template.csv")
    request.user = data_manager
    response = template_download(request)
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == TEMPLATE_PATH.read_bytes()
    request = RequestFactory().get("/registration/template.csv", {"empty": "1"})
    request.user = data_manager
    assert template_download(request).content.decode("utf-8-sig").strip().split(",") == TEMPLATE_COLUMNS

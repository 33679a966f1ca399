"""`mobility registration assist`: catalogue, distribution lists with refusals as row errors, summary, publish."""

import csv
import io

import pytest
from django.core.management import CommandError, call_command

from mobility.core.models import Role
from mobility.registration import assistance as a
from mobility.registration.models import AssistancePublication, Capability, Distribution
from tests.registration.assist_helpers import family, granted, same_person, site_make

HEADER = "reference,household_reference,item_code,quantity,distributed_on,site_code,distributor\n"


def run(*args, out=None):
    out = out or io.StringIO()
    call_command("registration", "assist", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def setup(django_user_model, operation):
    granted(django_user_model, operation, "imo", role=Role.DATA_MANAGER, capabilities=[Capability.DISTRIBUTE])
    granted(django_user_model, operation, "dist", capabilities=[Capability.DISTRIBUTE])
    site = site_make(operation)
    households = [family(operation, f"HH-{i}", site_code=site.code) for i in range(6)]
    same_person(households[0], households[5])
    out = run(
        "item",
        "--operation",
        operation.slug,
        "--code",
        "NFI",
        "--name",
        "NFI kit",
        "--period-days",
        "90",
        "--user",
        "imo",
    )
    assert "every 90 days" in out
    return households


def write(tmp_path, body):
    path = tmp_path / "list.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return str(path)


def test_a_list_is_recorded_once_and_refusals_are_row_errors(tmp_path, operation, setup):
    good = write(tmp_path, "".join(f"L-{i},HH-{i},NFI,1,2026-05-12,CD-SITE-01,IOM\n" for i in range(5)))
    assert "created 5" in run("import", good, "--operation", operation.slug, "--user", "dist")
    assert "unchanged 5" in run("import", good, "--operation", operation.slug, "--user", "dist")
    bad = write(
        tmp_path, "L-9,HH-5,NFI,1,2026-05-20,,\nL-10,HH-1,NFI,1,2026-06-01,,\nL-11,HH-4,NFI,x,2026-06-01,,\n"
    )
    out = io.StringIO()
    with pytest.raises(CommandError) as exc:
        run("import", bad, "--operation", operation.slug, "--user", "dist", out=out)
    assert "3 row error(s)" in str(exc.value)
    printed = out.getvalue()
    assert "row 2, column item_code: Refused: a household linked" in printed
    assert "row 3, column item_code: Refused: this household" in printed
    assert "row 4, column quantity" in printed
    assert Distribution.objects.count() == 5


def test_override_reason_records_refused_rows_for_supervisors_only(tmp_path, operation, setup):
    run(
        "import",
        write(tmp_path, "L-0,HH-0,NFI,1,2026-05-12,,\n"),
        "--operation",
        operation.slug,
        "--user",
        "dist",
    )
    repeat = write(tmp_path, "L-1,HH-5,NFI,1,2026-05-20,,\nL-2,HH-2,NFI,1,2026-05-20,,\n")
    with pytest.raises(CommandError) as exc:
        run(
            "import",
            repeat,
            "--operation",
            operation.slug,
            "--user",
            "dist",
            "--override-reason",
            "verified split",
        )
    assert str(a.OVERRIDE_NOT_ALLOWED) in str(exc.value)
    out = run(
        "import",
        repeat,
        "--operation",
        operation.slug,
        "--user",
        "imo",
        "--override-reason",
        "verified split",
    )
    assert "created 2" in out and "overridden 1" in out
    assert Distribution.objects.get(reference="L-1").overrides.reference == "L-0"
    assert Distribution.objects.get(reference="L-2").override_reason == ""


def test_summary_prints_the_aggregate_csv_and_publish_makes_it_public(tmp_path, operation, setup, client):
    run(
        "import",
        write(tmp_path, "".join(f"L-{i},HH-{i},NFI,1,2026-05-12,CD-SITE-01,IOM\n" for i in range(5))),
        "--operation",
        operation.slug,
        "--user",
        "dist",
    )
    out = run(
        "summary", "--operation", operation.slug, "--from", "2026-05-01", "--to", "2026-05-31", "--exact"
    )
    table = list(csv.DictReader(io.StringIO(out)))
    top = next(r for r in table if r["admin_level"] == "1" and r["gender"] == "all")
    assert (top["households"], top["individuals"], top["reference_period_start"]) == ("5", "15", "2026-05-01")
    assert "HH-" not in out and "L-" not in out
    with pytest.raises(CommandError):
        run("summary", "--operation", operation.slug, "--from", "2026-06-01", "--to", "2026-05-01")
    with pytest.raises(CommandError):
        run("publish", "--operation", operation.slug, "--period", "2026-05", "--user", "dist")
    assert "Published" in run(
        "publish", "--operation", operation.slug, "--period", "2026-05", "--user", "imo"
    )
    assert AssistancePublication.objects.count() == 1
    assert client.get("/api/v1/registration/assistance").json()["data"]

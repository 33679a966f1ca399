"""`mobility registration verify`: open a round, import a verification list (all or nothing), close, counts."""

import io

import pytest
from django.core.management import CommandError, call_command

from mobility.registration import verification as v
from mobility.registration.models import Capability, Household, Verification
from tests.registration.assist_helpers import family, granted, site_make


def run(*args):
    out = io.StringIO()
    call_command("registration", "verify", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def setup(django_user_model, operation):
    granted(django_user_model, operation, "verifier", capabilities=[Capability.VERIFY])
    site = site_make(operation)
    households = [family(operation, f"HH-{i}", site_code=site.code) for i in range(3)]
    run(
        "open",
        "--operation",
        operation.slug,
        "--name",
        "March",
        "--site",
        site.code,
        "--started-on",
        "2026-03-01",
        "--user",
        "verifier",
    )
    return households


def write(tmp_path, text):
    path = tmp_path / "list.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_verification_list_is_recorded_and_sent_again_changes_nothing(tmp_path, operation, setup):
    path = write(
        tmp_path,
        "household_reference,outcome,moved_to_pcode,verified_on\n"
        "HH-0,present,,2026-03-02\nHH-1,moved,MZ0106,2026-03-02\nHH-2,not found,,2026-03-03\n",
    )
    out = run("import", path, "--operation", operation.slug, "--round", "March", "--user", "verifier")
    assert "created 3" in out and "1 moved" in out
    assert dict(Household.objects.values_list("reference", "status")) == {
        "HH-0": "active",
        "HH-1": "moved",
        "HH-2": "not_found",
    }
    assert "unchanged 3" in run(
        "import", path, "--operation", operation.slug, "--round", "March", "--user", "verifier"
    )
    assert Verification.objects.count() == 3


def test_a_list_with_a_bad_row_records_nothing_and_names_the_rows(tmp_path, operation, setup):
    path = write(
        tmp_path,
        "household_reference,outcome,moved_to_pcode,verified_on\n"
        "HH-0,present,,2026-03-02\nHH-9,present,,2026-03-02\nHH-1,gone,,2026-03-02\nHH-2,present,,02/03/2026\nHH-0,present,,2026-03-02\n",
    )
    out = io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command(
            "registration",
            "verify",
            "import",
            path,
            "--operation",
            operation.slug,
            "--round",
            "March",
            "--user",
            "verifier",
            stdout=out,
        )
    assert "4 row error(s)" in str(exc.value)
    printed = out.getvalue()
    assert (
        "row 3, column household_reference" in printed
        and str(v.HOUSEHOLD_UNKNOWN.format(reference="HH-9")) in printed
    )
    assert "row 4, column outcome" in printed
    assert "row 5, column verified_on" in printed
    assert "row 6, column household_reference" in printed
    assert not Verification.objects.exists()


def test_missing_columns_wrong_user_and_close(tmp_path, operation, setup):
    with pytest.raises(CommandError):
        run(
            "import",
            write(tmp_path, "household,outcome\nHH-0,present\n"),
            "--operation",
            operation.slug,
            "--round",
            "March",
            "--user",
            "verifier",
        )
    with pytest.raises(CommandError) as exc:
        run("close", "--operation", operation.slug, "--round", "March", "--user", "nobody")
    assert "nobody" in str(exc.value)
    assert "3 not verified" in run(
        "close", "--operation", operation.slug, "--round", "March", "--user", "verifier"
    )
    counts = run("counts", "--operation", operation.slug)
    assert counts.splitlines()[0] == "admin1_pcode,admin2_pcode,status,households,individuals"
    assert "MZ01,MZ0101,active,3,9" in counts

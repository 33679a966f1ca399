"""The importer framework: every row checked first, then all rows or none; re-runs never duplicate."""

from dataclasses import dataclass

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from mobility.core import imports
from mobility.core.models import AuditEntry, ImportJob
from mobility.core.tables import FILE_EMPTY, FILE_TOO_LARGE, read_table

pytestmark = pytest.mark.django_db


@dataclass
class CountRow:
    row: int
    code: str
    idp_individuals: int


class CountImporter:
    """A tiny importer of `code,idp_individuals` rows; writes AuditEntry rows as its 'domain table'."""

    kind = "test.counts"
    label = "Test counts"
    explode_on_write = False

    def read(self, *, job, progress):
        table = read_table(imports.job_path(job), expected=["code", "idp_individuals"])
        rows, errors, seen = [], [], set()
        progress.start(table.total_rows, "checking rows")
        for number, cells in table:
            raw = cells.get("idp_individuals", "")
            try:
                value = int(raw)
                if value < 0:
                    errors.append(imports.RowError(number, "idp_individuals", "is negative", raw))
                    continue
            except ValueError:
                errors.append(imports.RowError(number, "idp_individuals", "is not a whole number", raw))
                continue
            if cells["code"] in seen:
                errors.append(imports.RowError(number, "code", "appears twice in the file", cells["code"]))
            seen.add(cells["code"])
            rows.append(CountRow(number, cells["code"], value))
            progress.advance()
        return imports.ReadResult(data=rows, rows_read=len(rows) + len(errors), errors=errors)

    def write(self, *, job, data, progress):
        counts = imports.Counts()
        for row in data:
            entry = AuditEntry.objects.filter(action="test.count", object_id=row.code).first()
            if entry is None:
                AuditEntry.objects.create(
                    action="test.count",
                    object_type="test",
                    object_id=row.code,
                    detail={"n": row.idp_individuals},
                )
                counts.created += 1
            elif entry.detail != {"n": row.idp_individuals}:
                entry.detail = {"n": row.idp_individuals}
                entry.save()
                counts.updated += 1
            else:
                counts.unchanged += 1
            if self.explode_on_write and row.code == "C3":
                raise RuntimeError("disk full while writing Hassan's record")  # holds a 'personal' value
        return counts


@pytest.fixture
def importer():
    imp = CountImporter()
    imports.register(imp)
    return imp


def write(tmp_path, text, name="counts.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def run_file(path, **kw):
    job = imports.job_create(kind="test.counts", source=path, **kw)
    return imports.run(job)


def stored():
    return dict(AuditEntry.objects.filter(action="test.count").values_list("object_id", "detail__n"))


def test_good_file_is_stored_and_rerun_changes_nothing(importer, tmp_path):
    path = write(tmp_path, "code,idp_individuals\nC1,10\nC2,20\nC3,30\n")
    job = run_file(path)
    assert (job.status, job.rows_read, job.created, job.updated, job.unchanged) == ("succeeded", 3, 3, 0, 0)
    again = run_file(path)
    assert (again.status, again.created, again.updated, again.unchanged) == ("succeeded", 0, 0, 3)
    assert stored() == {"C1": 10, "C2": 20, "C3": 30}


def test_one_bad_row_stores_nothing_and_every_error_names_row_and_column(importer, tmp_path):
    path = write(tmp_path, "code,idp_individuals\nC1,10\nC2,-3\nC3,many\nC1,5\n")
    job = run_file(path)
    assert job.status == ImportJob.Status.FAILED
    assert stored() == {}
    texts = [e.text for e in job.row_errors.all()]
    assert texts == [
        'row 3, column idp_individuals: "-3" is negative',
        'row 4, column idp_individuals: "many" is not a whole number',
        'row 5, column code: "C1" appears twice in the file',
    ]
    assert job.rejected == 3
    assert "nothing was stored" in job.error


def test_a_crash_while_writing_rolls_everything_back_and_leaks_no_value(importer, tmp_path, caplog):
    importer.explode_on_write = True
    path = write(tmp_path, "code,idp_individuals\nC1,10\nC2,20\nC3,30\n")
    job = run_file(path)
    assert job.status == ImportJob.Status.FAILED
    assert stored() == {}
    assert "Hassan" not in job.error
    assert str(job.pk) in job.error


def test_header_rows_above_the_header_and_a_hxl_row_are_skipped(importer, tmp_path):
    path = write(
        tmp_path,
        "Displacement counts, round 3\nSource: field team\n\ncode;idp_individuals\n#loc+code;#affected+idps\nC1;7\n",
    )
    job = run_file(path)
    assert job.status == "succeeded", job.error
    assert stored() == {"C1": 7}


def test_a_cp1252_file_is_read(importer, tmp_path):
    path = write(tmp_path, "code,idp_individuals,nome\nC1,7,Zambézia\n", encoding="cp1252")
    assert run_file(path).status == "succeeded"


def test_an_empty_file_is_refused_before_it_is_kept(importer, tmp_path):
    path = write(tmp_path, "")
    with pytest.raises(ValidationError) as err:
        imports.job_create(kind="test.counts", source=path)
    assert err.value.messages == [FILE_EMPTY]
    assert ImportJob.objects.count() == 0


@override_settings(MAX_UPLOAD_BYTES=1024)
def test_a_file_over_the_size_limit_is_refused(importer, tmp_path):
    path = write(tmp_path, "code,idp_individuals\n" + "C1,1\n" * 400)
    with pytest.raises(ValidationError) as err:
        imports.job_create(kind="test.counts", source=path)
    assert err.value.messages == [
        FILE_TOO_LARGE.format(size_mb=path.stat().st_size / 2**20, limit_mb=1024 / 2**20)
    ]
    assert ImportJob.objects.count() == 0


def test_a_binary_file_gets_a_clear_error(importer, tmp_path):
    path = tmp_path / "counts.csv"
    path.write_bytes(b"code,idp\x00\x01\x02" * 50)
    job = run_file(path)
    assert job.status == "failed"
    assert "binary" in job.error


def test_the_kept_file_is_unchanged_and_identified_by_its_checksum(importer, tmp_path):
    import hashlib

    path = write(tmp_path, "code,idp_individuals\nC1,10\n")
    job = run_file(path)
    assert job.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert imports.job_path(job).read_bytes() == path.read_bytes()
    assert str(imports.job_path(job)).startswith(str(__import__("django.conf").conf.settings.MEDIA_ROOT))


def test_a_failed_job_can_be_fixed_and_run_again(importer, tmp_path):
    path = write(tmp_path, "code,idp_individuals\nC1,-1\n")
    job = run_file(path)
    assert job.status == "failed"
    path.write_text("code,idp_individuals\nC1,1\n")
    good = run_file(path)
    assert good.status == "succeeded" and stored() == {"C1": 1}


def test_a_job_left_running_by_a_dead_worker_is_marked_failed_and_can_run_again(importer, tmp_path):
    from mobility.core.imports import JOB_INTERRUPTED, jobs_recover

    path = write(tmp_path, "code,idp_individuals\nC1,10\n")
    job = imports.job_create(kind="test.counts", source=path)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING)  # the worker was killed here
    assert jobs_recover() == 1
    job.refresh_from_db()
    assert (job.status, job.error) == ("failed", JOB_INTERRUPTED)
    assert imports.run(job).status == "succeeded" and stored() == {"C1": 10}

"""A crash (kill -9, power cut) loses nothing and leaves nothing half-done: the recovery, and a kill suite.

The recovery (core.recovery) is checked piece by piece on both databases: a job whose process died is
failed and runs again, a job whose process lives is left alone, a job's rows and its success commit
together, lost queue entries come back, orphan upload files go. The heavy test SIGKILLs `mobility serve`
(server and worker) in the middle of an import, a publish and a dedup run (tests/trust/crashkit.py;
bench/crash_suite.py runs more kills and prints the figures).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

from mobility.core import imports, recovery
from mobility.core.models import AuditEntry, ImportJob
from mobility.core.tasks import run_import_job
from tests.core.test_import_framework import CountImporter

from . import crashkit


@pytest.fixture
def importer():
    imp = CountImporter()
    imports.register(imp)
    return imp


def queued_job(tmp_path: Path, text: str = "code,idp_individuals\nC1,10\nC2,20\n") -> ImportJob:
    path = tmp_path / "counts.csv"
    path.write_text(text)
    return imports.job_create(kind="test.counts", source=path)


def stored() -> dict[str, int]:
    return {e.object_id: e.detail["n"] for e in AuditEntry.objects.filter(action="test.count")}


def left_running(job: ImportJob) -> None:
    """What a process killed during the job leaves: the job marked running, its lock file not held."""
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING)
    path = recovery.runner_lock_path(job.pk)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


@pytest.mark.django_db
def test_a_job_whose_process_died_is_failed_as_interrupted_and_runs_again(importer, tmp_path):
    job = queued_job(tmp_path)
    left_running(job)
    result = recovery.jobs_recover()
    job.refresh_from_db()
    assert result.interrupted == [job.pk]
    assert (job.status, job.error, job.summary["phase"]) == (
        "failed",
        recovery.JOB_INTERRUPTED,
        "interrupted",
    )
    assert not recovery.runner_lock_path(job.pk).exists()
    assert imports.run(job).status == "succeeded" and stored() == {"C1": 10, "C2": 20}
    assert not recovery.runner_lock_path(job.pk).exists()  # the runner removes its lock when done


@pytest.mark.django_db
def test_a_job_whose_process_lives_is_left_running(importer, tmp_path):
    job = queued_job(tmp_path)
    left_running(job)
    runner = recovery.RunnerLock(job.pk)  # another open file: to flock, as good as another process
    assert runner.acquire(wait=0)
    try:
        result = recovery.jobs_recover()
        assert (result.interrupted, result.running) == ([], [job.pk])
        assert ImportJob.objects.get(pk=job.pk).status == "running"
        with pytest.raises(ValidationError):  # nor can anyone else run it meanwhile
            imports.run(ImportJob.objects.get(pk=job.pk))
    finally:
        runner.handle.close()  # the process dies: the kernel drops its lock, the file stays
    assert recovery.jobs_recover().interrupted == [job.pk]
    assert not recovery.runner_lock_path(job.pk).exists()


@pytest.mark.django_db
def test_a_running_job_this_machine_cannot_check_is_failed_only_when_no_worker_runs_anywhere(
    importer, tmp_path
):
    job = queued_job(tmp_path)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING)  # no lock file here
    assert recovery.jobs_recover().running == [job.pk]
    assert ImportJob.objects.get(pk=job.pk).status == "running"
    assert recovery.jobs_recover(all_running=True).interrupted == [job.pk]
    assert ImportJob.objects.get(pk=job.pk).status == "failed"


@pytest.mark.django_db
def test_a_job_given_to_two_runners_is_run_by_one(importer, tmp_path):
    job = queued_job(tmp_path)
    second = ImportJob.objects.get(pk=job.pk)
    assert imports.run(job).status == "succeeded"
    with pytest.raises(ValidationError, match="succeeded"):
        imports.run(second)  # still "queued" in its memory: the claim in the database refuses it
    assert run_import_job.call_local(job.pk) == "succeeded"  # the worker's task leaves it alone
    assert stored() == {"C1": 10, "C2": 20}


@pytest.mark.django_db
def test_the_rows_and_the_success_of_a_job_are_committed_together(importer, tmp_path, monkeypatch):
    job = queued_job(tmp_path)
    save = ImportJob.save

    def dies_when_recording_success(self, *args, **kwargs):
        if self.status == ImportJob.Status.SUCCEEDED:
            raise OSError("the disk went away")  # as a crash between the rows and the job's success
        return save(self, *args, **kwargs)

    monkeypatch.setattr(ImportJob, "save", dies_when_recording_success)
    job = imports.run(job)
    monkeypatch.setattr(ImportJob, "save", save)
    assert job.status == "failed" and (job.created, job.updated, job.unchanged) == (0, 0, 0)
    assert stored() == {}  # the rows went with the success: "failed" never hides stored rows
    assert imports.run(ImportJob.objects.get(pk=job.pk)).status == "succeeded"
    assert stored() == {"C1": 10, "C2": 20}


@pytest.mark.django_db
def test_orphan_upload_files_are_removed_and_every_other_file_stays(importer, tmp_path):
    job = queued_job(tmp_path)
    kept = Path(settings.MEDIA_ROOT) / job.file.name
    folder = kept.parent
    old = time.time() - 3600
    orphan = folder / "0123456789abcdef-killed-upload.csv"  # kept just before its job was saved
    orphan.write_text("code\n")
    young = folder / "fedcba9876543210-being-saved.csv"  # a request is between the file and its row
    young.write_text("code\n")
    attachment = Path(settings.MEDIA_ROOT) / "collection" / "attachments" / "2026" / "11" / "photo.jpg"
    attachment.parent.mkdir(parents=True, exist_ok=True)
    attachment.write_bytes(b"\xff\xd8\xff")  # written inside a submission's transaction that died
    draft = Path(settings.MEDIA_ROOT) / "profile_drafts" / "abc.xlsx"  # no file field's folder: not ours
    draft.parent.mkdir(parents=True, exist_ok=True)
    draft.write_bytes(b"PK")
    for path in (kept, orphan, attachment, draft):
        os.utime(path, (old, old))

    ancient = folder / "00000000000000aa-killed-last-year.csv"
    ancient.write_text("code\n")
    os.utime(ancient, (old - 86400 * 365, old - 86400 * 365))
    var = Path(settings.MEDIA_ROOT).parent
    periodic = recovery.jobs_recover(grace=dt.timedelta(minutes=10), files_since=dt.timedelta(days=1))
    removed = set(periodic.files_removed)
    assert {str(orphan.relative_to(var)), str(attachment.relative_to(var))} <= removed
    assert ancient.exists()  # the periodic sweep reads recent files only; a full one takes it
    assert str(ancient.relative_to(var)) in recovery.jobs_recover().files_removed
    assert kept.exists() and young.exists() and draft.exists()
    assert not orphan.exists() and not attachment.exists()
    assert str(young.relative_to(var)) in recovery.jobs_recover(grace=dt.timedelta(0)).files_removed
    assert kept.exists() and draft.exists()


@pytest.fixture
def worker_queue():
    """The worker's SQLite queue instead of the tests' immediate mode."""
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = False
    HUEY.flush()
    yield HUEY
    HUEY.flush()
    HUEY.immediate = True


@pytest.mark.django_db
def test_a_queued_job_the_queue_lost_is_queued_again_once(importer, tmp_path, worker_queue):
    job = queued_job(tmp_path)  # created, never queued: the process died before it reached the queue
    waiting = queued_job(tmp_path, "code,idp_individuals\nC9,9\n")
    run_import_job(waiting.pk)  # this one is on the queue
    ImportJob.objects.update(created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert recovery.jobs_recover().requeued == [job.pk]
    assert sorted(t.args[0] for t in worker_queue.pending()) == sorted([job.pk, waiting.pk])
    assert recovery.jobs_recover().requeued == []  # on the queue now: not twice
    young = queued_job(tmp_path, "code,idp_individuals\nC8,8\n")  # its request may still queue it
    assert young.pk not in recovery.jobs_recover().requeued


@pytest.mark.django_db
def test_mobility_jobs_recover_says_what_it_did(importer, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    job = queued_job(tmp_path)
    left_running(job)
    out = StringIO()
    call_command("jobs", "recover", "--grace-minutes", "0", stdout=out)
    assert (
        f"1 import job(s) interrupted by a stop were marked failed; run them again: {job.pk}"
        in out.getvalue()
    )
    out = StringIO()
    call_command("jobs", "recover", stdout=out)
    assert out.getvalue().strip() == "Nothing to recover."


def test_an_upload_is_kept_with_its_job_or_not_at_all(db, importer):
    """The file is written before the job's row; a crash between them leaves an orphan the sweep takes."""
    job = imports.job_create(
        kind="test.counts", source=ContentFile(b"code,idp_individuals\nC1,1\n", name="a.csv")
    )
    assert (Path(settings.MEDIA_ROOT) / job.file.name).exists()
    assert job.file.name.startswith("imports/")  # the folder the sweep knows from the file field


# --- the kill suite -----------------------------------------------------------------------------------


def crash_database_url(tmp_path: Path) -> str:
    """A database of its own beside the test database: SQLite in tmp_path, or <name>_crash on PostgreSQL."""
    from django.db import connection

    if connection.vendor == "sqlite":
        return f"sqlite:///{tmp_path / 'crash' / 'var' / 'mobility.sqlite3'}"
    url = os.environ["DATABASE_URL"]
    name = urlparse(url).path.lstrip("/")
    return url.rsplit("/", 1)[0] + f"/{name}_crash"


@pytest.mark.heavy
@pytest.mark.django_db
def test_kill_9_in_the_middle_of_an_import_a_publish_and_a_dedup_run(tmp_path):
    config = crashkit.Config(
        database_url=crash_database_url(tmp_path),
        work_dir=tmp_path / "crash",
        kills=3,  # one aimed at each: the import, the publish, the dedup run
        seed=8,
        import_rows=10_000,
        registry=1_000,
    )
    try:
        report = crashkit.run_suite(config, log=lambda line: None)
    finally:
        crashkit.Db(config.database_url).drop()
    assert report.problems == []
    assert report.survived == 3
    assert [r.target for r in report.rounds[1:]] == ["import", "publish", "dedup"]
    # The import kill lands while the job runs: the restart's recovery failed it, the re-run succeeded.
    assert report.rounds[1].landed["import"] in ("reading the file", "writing (transaction open)")
    assert any("marked failed" in line for line in report.rounds[1].recovery)
    assert any(line.startswith("import: job") for line in report.rounds[1].reruns)

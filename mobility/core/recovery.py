"""Recovery after a crash: import jobs left running by a dead process, lost queue entries, orphan files.

Why a dead job can simply be run again: ``imports.run`` writes a job's rows *and* records its success
in one transaction, so a job whose process died (kill -9, power cut, out of memory) stored nothing.

How a dead job is told from a live one: the process that runs a job holds an ``flock`` on a small
file ``var/jobs/running/<database>-import-<id>.lock`` for as long as it runs. The kernel drops the
lock when the process dies, however it dies. A job marked running whose lock can be taken was left
by a dead process; one whose lock is held is running now (a worker, or a CLI import); one with no
lock file here was started on another machine (or by a version before this one) and is left alone
unless the caller says no worker runs anywhere (``all_running``).

Who calls it: the job worker when it starts and every ten minutes (``core.tasks``), ``mobility serve``
when it starts (before its server and worker), and ``mobility jobs recover``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection, models
from django.utils import timezone

from .models import ImportJob

try:  # POSIX; elsewhere no lock is kept and only ``all_running`` recovers running jobs
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

log = logging.getLogger(__name__)

JOB_INTERRUPTED = (
    "The import was interrupted (the worker stopped while it ran); nothing was stored. Run it again."
)
DEFAULT_GRACE = dt.timedelta(minutes=10)
LOCK_WAIT_SECONDS = 5.0


def runner_dir() -> Path:
    # Beside uploads/ (var/ in every set-up), so a test run's throw-away var dir keeps its own.
    return Path(settings.MEDIA_ROOT).parent / "jobs" / "running"


def _database_key() -> str:
    """Tells apart databases that share one var dir (a test run's databases, several instances)."""
    s = connection.settings_dict
    ident = f"{connection.vendor}:{s.get('HOST') or ''}:{s.get('PORT') or ''}:{s.get('NAME')}"
    return hashlib.sha256(ident.encode()).hexdigest()[:12]


def runner_lock_path(job_id: int) -> Path:
    return runner_dir() / f"{_database_key()}-import-{int(job_id)}.lock"


def _try_lock(path: Path):
    """The open, flock-ed file at ``path`` (the one the path names now), or None when it is held."""
    while True:
        handle = open(path, "a+")  # noqa: SIM115 - kept open while the lock is held
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        try:
            if os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino:
                return handle
        except FileNotFoundError:
            pass
        handle.close()  # a recovery removed the file between open and flock: take the new one


def _unlock(handle, path: Path) -> None:
    """Remove the file while the lock is still held (nobody can take a lock on a removed path)."""
    path.unlink(missing_ok=True)
    fcntl.flock(handle, fcntl.LOCK_UN)
    handle.close()


class RunnerLock:
    """Held by the process that runs an import job, for as long as it runs it."""

    def __init__(self, job_id: int):
        self.path = runner_lock_path(job_id)
        self.handle = None

    def acquire(self, wait: float = LOCK_WAIT_SECONDS) -> bool:
        """True when taken; False when another live process holds it for ``wait`` seconds."""
        if fcntl is None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + wait
        while (handle := _try_lock(self.path)) is None:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        self.handle = handle
        return True

    def release(self) -> None:
        if self.handle is not None:
            _unlock(self.handle, self.path)
            self.handle = None


@dataclass
class Recovery:
    interrupted: list[int] = field(default_factory=list)  # running jobs of dead processes, now failed
    running: list[int] = field(default_factory=list)  # running in a live process (or elsewhere)
    requeued: list[int] = field(default_factory=list)  # queued jobs the queue had lost
    files_removed: list[str] = field(default_factory=list)  # under var/, relative to it

    def lines(self) -> list[str]:
        out = []
        if self.interrupted:
            out.append(
                f"{len(self.interrupted)} import job(s) interrupted by a stop were marked failed; "
                f"run them again: {', '.join(map(str, self.interrupted))}"
            )
        if self.running:
            out.append(
                f"{len(self.running)} import job(s) still running: {', '.join(map(str, self.running))}"
            )
        if self.requeued:
            out.append(f"{len(self.requeued)} queued import job(s) put back on the queue")
        if self.files_removed:
            out.append(f"{len(self.files_removed)} orphan file(s) removed from var/")
        return out


def _mark_interrupted(job: ImportJob) -> bool:
    now = timezone.now()
    return bool(
        ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING).update(
            status=ImportJob.Status.FAILED,
            error=JOB_INTERRUPTED,
            finished_at=now,
            updated_at=now,
            summary={**(job.summary or {}), "phase": "interrupted"},
        )
    )


def _recover_running(result: Recovery, *, all_running: bool) -> None:
    for job in ImportJob.objects.filter(status=ImportJob.Status.RUNNING).order_by("pk"):
        path = runner_lock_path(job.pk)
        if fcntl is None or not path.exists():
            if all_running and _mark_interrupted(job):
                result.interrupted.append(job.pk)
            elif not all_running:
                result.running.append(job.pk)
            continue
        handle = _try_lock(path)
        if handle is None:
            result.running.append(job.pk)
            continue
        try:
            if _mark_interrupted(job):
                result.interrupted.append(job.pk)
        finally:
            _unlock(handle, path)
    if fcntl is None or not runner_dir().is_dir():
        return
    # Lock files of jobs that ended (their process died after the commit, before removing the file).
    key = _database_key()
    running = set(ImportJob.objects.filter(status=ImportJob.Status.RUNNING).values_list("pk", flat=True))
    for path in runner_dir().glob(f"{key}-import-*.lock"):
        job_id = path.stem.rsplit("-", 1)[-1]
        if not job_id.isdigit() or int(job_id) in running:
            continue
        handle = _try_lock(path)
        if handle is not None:
            _unlock(handle, path)
            result.files_removed.append(str(path.relative_to(runner_dir().parent.parent)))


def _requeue_lost(result: Recovery, *, grace: dt.timedelta) -> None:
    """Queued jobs older than ``grace`` that the queue no longer holds (it was lost, or never reached)."""
    from huey.contrib.djhuey import HUEY

    from .tasks import run_import_job

    if HUEY.immediate:
        return
    queued = list(
        ImportJob.objects.filter(
            status=ImportJob.Status.QUEUED, created_at__lte=timezone.now() - grace
        ).values_list("pk", flat=True)
    )
    if not queued:
        return
    waiting = {
        task.args[0]
        for task in [*HUEY.pending(), *HUEY.scheduled()]
        if isinstance(task, run_import_job.task_class) and task.args
    }
    for job_id in queued:
        if job_id not in waiting:
            run_import_job(job_id)
            result.requeued.append(job_id)


def _file_fields() -> dict[str, list[tuple[type[models.Model], str]]]:
    """Upload folder (the fixed part of ``upload_to``) → the (model, field) pairs that store files there."""
    from django.apps import apps

    folders: dict[str, list] = {}
    for model in apps.get_models():
        for f in model._meta.concrete_fields:
            if isinstance(f, models.FileField) and isinstance(f.upload_to, str):
                folder = f.upload_to.split("%", 1)[0].strip("/")
                if folder:
                    folders.setdefault(folder, []).append((model, f.name))
    return folders


def _sweep_orphan_files(result: Recovery, *, grace: dt.timedelta, since: dt.timedelta | None) -> None:
    """Files in the upload folders of file fields that no row names, older than ``grace`` (and, with
    ``since``, younger than it: the periodic sweep looks at recent files only).

    They are what a process killed between writing a file and committing its row leaves: an upload
    kept just before its job was saved, the attachments of a submission whose transaction died.
    """
    root = Path(settings.MEDIA_ROOT)
    if not root.is_dir():
        return
    now = time.time()
    newest, oldest = now - grace.total_seconds(), (now - since.total_seconds()) if since else 0.0
    removed = 0
    for folder, fields in _file_fields().items():
        base = root / folder
        if not base.is_dir():
            continue
        candidates: dict[str, Path] = {}
        for dirpath, _dirs, files in os.walk(base):
            for filename in files:
                path = Path(dirpath) / filename
                try:
                    if oldest <= path.stat().st_mtime <= newest:
                        candidates[path.relative_to(root).as_posix()] = path
                except FileNotFoundError:
                    continue
        names = sorted(candidates)
        for start in range(0, len(names), 500):
            batch = names[start : start + 500]
            for model, name in fields:
                for named in model._default_manager.filter(**{f"{name}__in": batch}).values_list(
                    name, flat=True
                ):
                    candidates.pop(named, None)
        for path in candidates.values():
            path.unlink(missing_ok=True)
            result.files_removed.append(str(path.relative_to(root.parent)))
            removed += 1
    if removed:
        log.warning("removed %s orphan file(s) from %s", removed, root)


def jobs_recover(
    *,
    all_running: bool = False,
    grace: dt.timedelta = DEFAULT_GRACE,
    requeue: bool = True,
    sweep_files: bool = True,
    files_since: dt.timedelta | None = None,
) -> Recovery:
    """Fail the running jobs of dead processes (they stored nothing), put lost queued jobs back on the
    queue and remove orphan upload files. Safe to run at any time, beside running workers.

    ``all_running`` also fails running jobs whose process cannot be checked from here (no lock file on
    this machine): only when no worker runs anywhere. ``grace`` spares queued jobs and files younger than
    it (a request may be between writing a file and saving its row); ``files_since`` looks only at files
    younger than it (the periodic run: a full sweep reads every file's date).
    """
    result = Recovery()
    _recover_running(result, all_running=all_running)
    if requeue:
        _requeue_lost(result, grace=grace)
    if sweep_files:
        _sweep_orphan_files(result, grace=grace, since=files_since)
    if result.interrupted:
        log.warning("import jobs %s were interrupted by a stop and are marked failed", result.interrupted)
    return result

"""The importer framework every module plugs into.

An importer has two halves:

- ``read(job, progress) -> ReadResult``: open the kept file, map columns, validate and p-code
  every row, and collect *every* row error (not just the first). It never writes domain rows.
- ``write(job, data, progress) -> Counts``: store the validated rows. It is called only when
  ``read`` found no error, inside one transaction, and must be idempotent (a re-run of the same
  file updates or leaves rows unchanged, never duplicates).

``run(job)`` owns the transaction, the counts, the progress and the all-or-nothing rule.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from .models import ImportJob, ImportRowError, Operation
from .recovery import JOB_INTERRUPTED, RunnerLock  # noqa: F401 - JOB_INTERRUPTED: re-exported
from .recovery import jobs_recover as _recover
from .tables import FILE_EMPTY, FILE_TOO_LARGE, TableError

log = logging.getLogger(__name__)

MAX_STORED_ERRORS = 1000
JOB_UNKNOWN_KIND = "No importer is registered for {kind!r}."
JOB_INTERNAL_ERROR = "The import stopped on an internal error (reference: job {job_id}); nothing was stored."
JOB_ALREADY_RUN = "Job {job_id} is {status}; only a queued or failed job can run."


@dataclass
class RowError:
    row: int | None
    column: str
    message: str
    value: str = ""

    @property
    def text(self) -> str:
        return ImportRowError(row=self.row, column=self.column, value=self.value, message=self.message).text


@dataclass
class ReadResult:
    data: Any
    rows_read: int
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    summary: dict = field(default_factory=dict)


class ImportFailed(Exception):
    """Raised by a reader or writer for a whole-file problem; nothing is stored."""

    def __init__(self, message: str, errors: list[RowError] | None = None):
        super().__init__(message)
        self.errors = errors or []


class Progress(Protocol):
    def start(self, total: int | None, description: str) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def finish(self) -> None: ...


class NullProgress:
    def start(self, total, description):
        pass

    def advance(self, n=1):
        pass

    def finish(self):
        pass


class JobProgress:
    """Writes the job's progress to the database at most twice a second, for the page to poll."""

    def __init__(self, job: ImportJob, interval: float = 0.5):
        self.job, self.interval, self._last = job, interval, 0.0

    def start(self, total, description):
        self.job.rows_total = total or 0
        self.job.rows_done = 0
        self.job.summary = {**self.job.summary, "phase": description}
        self._save(force=True)

    def advance(self, n=1):
        self.job.rows_done += n
        self._save()

    def finish(self):
        if self.job.rows_total < self.job.rows_done:
            self.job.rows_total = self.job.rows_done
        self._save(force=True)

    def _save(self, force=False):
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        # Only outside a transaction: inside one, nobody else could see it anyway.
        if transaction.get_connection().in_atomic_block:
            return
        ImportJob.objects.filter(pk=self.job.pk).update(
            rows_total=self.job.rows_total, rows_done=self.job.rows_done, summary=self.job.summary
        )


class TeeProgress:
    def __init__(self, *targets: Progress):
        self.targets = targets

    def start(self, total, description):
        for t in self.targets:
            t.start(total, description)

    def advance(self, n=1):
        for t in self.targets:
            t.advance(n)

    def finish(self):
        for t in self.targets:
            t.finish()


class Importer(Protocol):
    kind: str
    label: str

    def read(self, *, job: ImportJob, progress: Progress) -> ReadResult: ...
    def write(self, *, job: ImportJob, data: Any, progress: Progress) -> Counts: ...


_REGISTRY: dict[str, Importer] = {}


def register(importer: Importer) -> Importer:
    _REGISTRY[importer.kind] = importer
    return importer


def importer_for(kind: str) -> Importer:
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise ValidationError(JOB_UNKNOWN_KIND.format(kind=kind))


def registered_kinds() -> dict[str, str]:
    return {kind: imp.label for kind, imp in sorted(_REGISTRY.items())}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def upload_profile(
    *,
    country: str | None = "",
    edition: str | None = "",
    valid_from=None,
    round: int | None = None,
    source_profile: str | None = "",
) -> dict:
    """What an upload (the imports page or POST /api/v1/imports) tells its importer, empty values left out."""
    profile: dict[str, Any] = {}
    if country:
        profile["country"] = country.strip().upper()
    if edition:
        profile["edition"] = edition
    if valid_from:
        profile["valid_from"] = valid_from.isoformat()
    if round:
        profile["round"] = round
    if source_profile:
        profile["source_profile"] = source_profile
    return profile


def job_create(
    *,
    kind: str,
    source: Path | File,
    original_name: str | None = None,
    profile: dict | None = None,
    operation: Operation | None = None,
    by=None,
) -> ImportJob:
    """Keep the file (refusing it when too large or empty) and queue a job for it."""
    importer_for(kind)
    limit = settings.MAX_UPLOAD_BYTES
    if isinstance(source, Path | str):
        path = Path(source)
        size = path.stat().st_size
        name = original_name or path.name
    else:
        size = source.size
        name = original_name or Path(source.name).name
    if size > limit:
        raise ValidationError(FILE_TOO_LARGE.format(size_mb=size / 2**20, limit_mb=limit / 2**20))
    if size == 0:
        raise ValidationError(FILE_EMPTY)
    job = ImportJob(
        kind=kind,
        operation=operation,
        original_name=name[:255],
        size_bytes=size,
        profile=profile or {},
        created_by=by,
    )
    digest = hashlib.sha256()
    if isinstance(source, Path | str):
        with Path(source).open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
            fh.seek(0)
            job.sha256 = digest.hexdigest()
            job.file.save(f"{job.sha256[:16]}-{Path(name).name}", File(fh), save=False)
    else:
        for chunk in source.chunks():
            digest.update(chunk)
        source.seek(0)
        job.sha256 = digest.hexdigest()
        job.file.save(f"{job.sha256[:16]}-{Path(name).name}", source, save=False)
    job.full_clean()
    job.save()
    return job


JOB_OPERATION_UNKNOWN = 'No operation "{operation}".'


def job_operation(job: ImportJob, *, missing: str) -> Operation:
    """The operation a job writes to: the job's own, or the one its profile names (id, slug or name).

    ``missing`` is the importer's message for a job that names none.
    """
    if job.operation_id:
        return job.operation
    ref = (job.profile or {}).get("operation")
    if ref in (None, ""):
        raise ImportFailed(str(missing))
    found = None
    if isinstance(ref, int) or str(ref).isdigit():
        found = Operation.objects.filter(pk=int(ref)).first()
    found = (
        found
        or Operation.objects.filter(slug=str(ref)).first()
        or Operation.objects.filter(name=str(ref)).first()
    )
    if found is None:
        raise ImportFailed(JOB_OPERATION_UNKNOWN.format(operation=ref))
    return found


def job_path(job: ImportJob) -> Path:
    return Path(job.file.path)


def _store_errors(job: ImportJob, errors: list[RowError]) -> None:
    ImportRowError.objects.bulk_create(
        ImportRowError(
            job=job,
            row=e.row,
            column=(e.column or "")[:200],
            value=(e.value or "")[:200],
            message=(e.message or "")[:500],
        )
        for e in errors[:MAX_STORED_ERRORS]
    )


class WriteHook(Protocol):
    """Lets a caller see (and filter) what a job writes, inside the job's transaction."""

    def before_write(self, data: Any) -> Any: ...
    def after_write(self, data: Any) -> int: ...


def run(
    job: ImportJob, *, progress: Progress | None = None, write_hook: WriteHook | None = None
) -> ImportJob:
    """Run one job: read and validate everything, then write all of it in one transaction or nothing.

    ``write_hook`` (form submissions use it) filters the validated data before the write and is told
    after it; what ``after_write`` returns is kept as the summary's "removed" count.

    Crash safety: the job is claimed (queued or failed → running) by one process only, which holds its
    runner lock (core.recovery) until the end; its rows and its "succeeded" are committed together, so
    a job whose process dies stored nothing and core.recovery marks it failed, to run again.
    """
    if job.status not in (ImportJob.Status.QUEUED, ImportJob.Status.FAILED):
        raise ValidationError(JOB_ALREADY_RUN.format(job_id=job.pk, status=job.status))
    importer = importer_for(job.kind)
    lock = RunnerLock(job.pk)
    if not lock.acquire():
        raise ValidationError(JOB_ALREADY_RUN.format(job_id=job.pk, status=ImportJob.Status.RUNNING))
    try:
        _claim(job)
        return _run_claimed(job, importer, progress, write_hook)
    finally:
        lock.release()


def _claim(job: ImportJob) -> None:
    """queued/failed → running, in one statement: of two processes given the same job, one runs it."""
    now = timezone.now()
    fresh = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0, "rows_read": 0}
    with transaction.atomic():
        claimed = ImportJob.objects.filter(
            pk=job.pk, status__in=(ImportJob.Status.QUEUED, ImportJob.Status.FAILED)
        ).update(
            status=ImportJob.Status.RUNNING,
            started_at=now,
            finished_at=None,
            error="",
            updated_at=now,
            **fresh,
        )
        if not claimed:
            status = ImportJob.objects.filter(pk=job.pk).values_list("status", flat=True).first()
            raise ValidationError(JOB_ALREADY_RUN.format(job_id=job.pk, status=status))
        ImportRowError.objects.filter(job=job).delete()
    job.status, job.started_at, job.finished_at, job.error = ImportJob.Status.RUNNING, now, None, ""
    for name, value in fresh.items():
        setattr(job, name, value)


def _run_claimed(job: ImportJob, importer: Importer, progress, write_hook) -> ImportJob:
    job_progress = JobProgress(job)
    progress = TeeProgress(job_progress, progress) if progress else job_progress
    try:
        result = importer.read(job=job, progress=progress)
        job.rows_read = result.rows_read
        if result.warnings:
            job.summary = {**job.summary, "warnings": result.warnings[:50]}
        if result.errors:
            job.rejected = len({e.row for e in result.errors if e.row is not None}) or len(result.errors)
            raise ImportFailed(
                f"{len(result.errors)} problem(s) in {job.rejected} row(s); nothing was stored. "
                f"First: {result.errors[0].text}",
                result.errors,
            )
        progress.start(result.rows_read, "writing")
        with transaction.atomic():
            data = write_hook.before_write(result.data) if write_hook else result.data
            counts = importer.write(job=job, data=data, progress=progress)
            if write_hook:
                counts.summary["removed"] = write_hook.after_write(data)
            progress.finish()
            job.created, job.updated, job.unchanged = counts.created, counts.updated, counts.unchanged
            job.summary = {**job.summary, **counts.summary, "phase": "done"}
            job.status = ImportJob.Status.SUCCEEDED
            # In the write's transaction: the rows and the job's success are committed together.
            _finish(job)
        return job
    except (ImportFailed, TableError, ValidationError) as exc:
        errors = getattr(exc, "errors", None)
        job.rejected = job.rejected or len({e.row for e in errors or []})
        job.error = _message(exc)
    except Exception:
        # Row values may hold personal data: log the job id and the traceback, not the values.
        log.exception("import job %s failed", job.pk)
        errors = None
        job.error = JOB_INTERNAL_ERROR.format(job_id=job.pk)
    job.status = ImportJob.Status.FAILED
    job.created = job.updated = job.unchanged = 0
    job.summary = {**job.summary, "phase": "failed"}
    with transaction.atomic():
        if errors:
            _store_errors(job, errors)
        _finish(job)
    return job


def _finish(job: ImportJob) -> None:
    job.finished_at = timezone.now()
    job.rows_done = job.rows_total = max(job.rows_done, job.rows_read)
    job.save()


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc)


def jobs_recover() -> int:
    """At start-up, before any worker runs: mark every job left "running" failed; how many.

    See core.recovery.jobs_recover for the check that is safe beside running workers.
    """
    return len(_recover(all_running=True, requeue=False, sweep_files=False).interrupted)


def submit(job: ImportJob) -> ImportJob:
    """Queue a job on the background worker (or run it now when jobs are synchronous)."""
    from .tasks import run_import_job

    transaction.on_commit(lambda: run_import_job(job.pk))
    return job


def copy_kept_file(job: ImportJob, dest: Path) -> Path:
    shutil.copyfile(job_path(job), dest)
    return dest


ReaderFn = Callable[..., ReadResult]

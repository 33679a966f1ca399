"""Running submissions through import jobs in batches, and the per-form queue with its locks."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone

from mobility.core.imports import JOB_INTERNAL_ERROR, NullProgress, job_create, run
from mobility.core.models import ImportJob
from mobility.core.services import audit_record

from ..bindings import binding_current
from ..models import Form, Submission
from .common import BATCH_SIZE, FLAG_PLACE_TAKEN, PROCESSING_FAILED, _flags_with, _flags_without
from .errors import _error_text
from .inputs import Plan, Prepared, _csv
from .outputs import _Hook

log = logging.getLogger(__package__)  # the package's name, as before the split

# --- running ----------------------------------------------------------------------------------------


@dataclass
class ProcessCounts:
    """What a processing run did: submissions by outcome, and domain rows by outcome."""

    submissions: int = 0
    processed: int = 0
    attention: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    jobs: int = 0

    def add(self, other: ProcessCounts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _mark_processed(submissions: list[Submission], plan: Plan, job: ImportJob) -> None:
    now = timezone.now()
    plain = [s.pk for s in submissions if not any(f.get("code") == FLAG_PLACE_TAKEN for f in s.flags or [])]
    Submission.objects.filter(pk__in=plain, superseded_by__isnull=True).update(
        status=Submission.Status.PROCESSED, binding=plan.binding, import_job=job, processed_at=now, error=""
    )
    for submission in submissions:
        if submission.pk in plain:
            continue
        Submission.objects.filter(pk=submission.pk, superseded_by__isnull=True).update(
            status=Submission.Status.PROCESSED,
            binding=plan.binding,
            import_job=job,
            processed_at=now,
            error="",
            flags=_flags_without(submission.flags, FLAG_PLACE_TAKEN),
        )


def _mark_attention(
    submission: Submission, plan: Plan | None, job: ImportJob | None, message: str, flag=False
):
    flags = (
        _flags_with(submission.flags, FLAG_PLACE_TAKEN, message)
        if flag
        else _flags_without(submission.flags, FLAG_PLACE_TAKEN)
    )
    Submission.objects.filter(pk=submission.pk, superseded_by__isnull=True).update(
        status=Submission.Status.NEEDS_ATTENTION,
        binding=plan.binding if plan else None,
        import_job=job,
        processed_at=timezone.now(),
        error=message,
        flags=flags,
    )


def _run_batch(plan: Plan, batch: list[Prepared], by=None, *, retried: bool = False) -> ProcessCounts:
    """One job for the batch; split and re-run on failure so each submission ends processed or flagged."""
    counts = ProcessCounts()
    rows: list[dict] = []
    row_map: dict[int, tuple[int, int | None]] = {}
    for prepared in batch:
        for row, entry in zip(prepared.rows, prepared.entries, strict=True):
            rows.append(row)
            row_map[len(rows) + 1] = (prepared.submission.pk, entry)  # line 1 is the header
    ids = [p.submission.pk for p in batch]
    form = plan.binding.form
    name = (
        f"{form.xml_form_id}-submission-{ids[0]}.csv"
        if len(ids) == 1
        else f"{form.xml_form_id}-batch-{ids[0]}.csv"
    )
    job = job_create(
        kind=plan.spec.kind,
        source=ContentFile(_csv(plan.header(rows), rows), name=name),
        original_name=name,
        profile=plan.profile(ids),
        operation=form.operation,
        by=by if getattr(by, "pk", None) else None,
    )
    hook = _Hook(plan, batch, row_map)
    job = run(job, write_hook=hook)
    counts.jobs = 1
    if job.status == ImportJob.Status.SUCCEEDED:
        counts.created, counts.updated, counts.unchanged = job.created, job.updated, job.unchanged
        counts.removed = hook.removed
        processed, alone = [], []
        for prepared in batch:
            submission = prepared.submission
            if submission.pk in hook.lost and submission.pk not in hook.written:
                _mark_attention(submission, plan, job, hook.lost[submission.pk], flag=True)
                counts.attention += 1
            elif submission.pk in hook.written or len(batch) == 1:
                processed.append(submission)
            else:
                alone.append(prepared)  # its rows merged into nothing: run it alone to be sure
        _mark_processed(processed, plan, job)
        counts.processed += len(processed)
        counts.submissions += len(processed) + counts.attention
        for prepared in alone:
            counts.add(_run_batch(plan, [prepared], by))
        if hook.freed:
            transaction.on_commit(lambda: _retry_place_taken(form.pk))
        return counts
    # Failed: nothing was written.
    failing = {plan_row[0] for e in job.row_errors.all() if (plan_row := row_map.get(e.row))}
    if len(batch) == 1:
        if job.error == JOB_INTERNAL_ERROR.format(job_id=job.pk) and not retried:
            # Most likely a concurrent write of the same row (two workers); once more settles it.
            _discard(job)
            return _run_batch(plan, batch, by, retried=True)
        _mark_attention(batch[0].submission, plan, job, _error_text(job, plan))
        counts.attention = counts.submissions = 1
        return counts
    _discard(job)
    counts.jobs = 0
    bad = [p for p in batch if p.submission.pk in failing]
    good = [p for p in batch if p.submission.pk not in failing]
    if not bad:
        good, bad = [], batch  # a whole-job problem: each alone tells its own
    if good:
        counts.add(_run_batch(plan, good, by))
    for prepared in bad:
        counts.add(_run_batch(plan, [prepared], by))
    return counts


def _discard(job: ImportJob) -> None:
    """A failed batch job wrote nothing and its submissions are re-run: it is not kept."""
    if job.file:
        job.file.delete(save=False)
    job.delete()


def _waves(prepared: list[Prepared]) -> list[list[Prepared]]:
    """Wave k holds the k-th submission of each place/event (oldest first): no two share a job."""
    seen: dict[tuple, int] = defaultdict(int)
    waves: list[list[Prepared]] = []
    for item in prepared:
        wave = seen[item.key]
        seen[item.key] += 1
        while len(waves) <= wave:
            waves.append([])
        waves[wave].append(item)
    return waves


def submissions_process(submissions: Iterable[Submission], *, by=None, progress=None) -> ProcessCounts:
    """Process submissions (any form) with their form's current binding; superseded ones are skipped."""
    counts = ProcessCounts()
    seen: list[int] = []
    by_form: dict[int, list[Submission]] = defaultdict(list)
    for submission in submissions:
        if submission.superseded_by_id is None and submission.status != Submission.Status.SUPERSEDED:
            by_form[submission.form_id].append(submission)
            seen.append(submission.pk)
    for form_id, items in by_form.items():
        form = Form.objects.select_related("operation", "current_version").get(pk=form_id)
        binding = binding_current(form)
        if binding is None:
            continue
        binding.form = form
        plan = Plan.of(binding)
        items.sort(key=lambda s: (s.submitted_at, s.pk))
        prepared = []
        for submission in items:
            item = plan.prepare(submission)
            if item.error:
                _mark_attention(submission, plan, None, item.error)
                counts.attention += 1
                counts.submissions += 1
                if progress:
                    progress.advance()
                continue
            prepared.append(item)
        for wave in _waves(prepared):
            for start in range(0, len(wave), BATCH_SIZE):
                chunk = wave[start : start + BATCH_SIZE]
                try:
                    counts.add(_run_batch(plan, chunk, by))
                except Exception:
                    # Never leave a submission queued for ever: say so, with ids only (no values).
                    log.exception("processing submissions %s failed", [p.submission.pk for p in chunk])
                    for prepared_item in chunk:
                        _mark_attention(
                            prepared_item.submission,
                            plan,
                            None,
                            PROCESSING_FAILED.format(pk=prepared_item.submission.pk),
                        )
                        counts.attention += 1
                        counts.submissions += 1
                if progress:
                    progress.advance(len(chunk))
    # Outcomes as stored at the end: a submission that counted first may have lost its place to a
    # newer one processed after it (latest wins).
    statuses = Submission.objects.filter(pk__in=seen).values_list("status", flat=True)
    counts.processed = sum(1 for s in statuses if s == Submission.Status.PROCESSED)
    counts.attention = sum(1 for s in statuses if s == Submission.Status.NEEDS_ATTENTION)
    counts.submissions = counts.processed + counts.attention
    return counts


def submission_process(submission: Submission, *, by=None) -> Submission:
    """Process (or re-process) one submission now; returns it as stored afterwards."""
    submissions_process([submission], by=by)
    submission.refresh_from_db()
    return submission


# --- the queue --------------------------------------------------------------------------------------

_LOCKS: dict[int, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()
_PG_LOCK_SPACE = 0x6D6F6263  # first key of PostgreSQL advisory locks taken here ("mobc")


@contextmanager
def _form_lock(form_id: int, *, wait: bool) -> Iterator[bool]:
    """One processing run per form at a time: a thread lock in this process and, on PostgreSQL, an
    advisory lock for workers in other processes. Yields whether the lock was taken."""
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(form_id, threading.Lock())
    if not lock.acquire(blocking=wait):
        yield False
        return
    try:
        if connection.vendor != "postgresql":
            yield True
            return
        key = (_PG_LOCK_SPACE, form_id % 2**31)
        with connection.cursor() as cursor:
            if wait:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", key)
                taken = True
            else:
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
                taken = cursor.fetchone()[0]
        if not taken:
            yield False
            return
        try:
            yield True
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)
    finally:
        lock.release()


def _pending(form_id: int):
    return Submission.objects.filter(
        form_id=form_id, status=Submission.Status.RECEIVED, superseded_by__isnull=True
    ).order_by("submitted_at", "pk")


def form_pending_process(form: Form) -> ProcessCounts:
    """Process the form's queued submissions in batches until none is left. One worker per form at a
    time; a worker that finds the form busy leaves its submission to the one that holds it."""
    counts = ProcessCounts()
    if binding_current(form) is None:
        return counts
    stuck: set[int] = set()  # still queued after a run (e.g. the binding went away): not retried here
    while True:
        with _form_lock(form.pk, wait=False) as taken:
            if not taken:
                break
            while True:
                batch = list(_pending(form.pk).exclude(pk__in=stuck)[:BATCH_SIZE])
                if not batch:
                    break
                counts.add(submissions_process(batch))
                stuck.update(
                    _pending(form.pk).filter(pk__in=[s.pk for s in batch]).values_list("pk", flat=True)
                )
        # A submission queued while the lock was held, whose worker gave way to this one.
        if not _pending(form.pk).exclude(pk__in=stuck).exists():
            break
    return counts


def submission_process_by_id(submission_id: int) -> None:
    """The background task: process the submission (and whatever else of its form is queued)."""
    # The whole form's queue is drained, even when this submission was already processed by another
    # run: one task stands for every submission of its form queued in the same second.
    submission = Submission.objects.select_related("form").filter(pk=submission_id).first()
    if submission is None:
        return
    form_pending_process(submission.form)


def _retry_place_taken(form_id: int) -> None:
    """A place was freed: submissions that lost it get their turn again."""
    waiting = [
        s
        for s in Submission.objects.filter(
            form_id=form_id, status=Submission.Status.NEEDS_ATTENTION, superseded_by__isnull=True
        )
        if any(f.get("code") == FLAG_PLACE_TAKEN for f in s.flags or [])
    ]
    if waiting:
        submissions_process(waiting)


def form_reprocess(*, form: Form, progress=None, by=None) -> ProcessCounts:
    """Re-run every current submission of the form with its current binding. Idempotent: a second run
    reports every row unchanged."""
    progress = progress or NullProgress()
    submissions = list(
        Submission.objects.filter(form=form, superseded_by__isnull=True).exclude(
            status=Submission.Status.SUPERSEDED
        )
    )
    progress.start(len(submissions), "processing submissions")
    with _form_lock(form.pk, wait=True):
        counts = submissions_process(submissions, by=by, progress=progress)
    progress.finish()
    # Submissions that arrived meanwhile: their workers gave way to this run.
    form_pending_process(form)
    audit_record(
        action="collection.form_reprocess",
        obj=form,
        by=by,
        operation=form.operation,
        detail={k: getattr(counts, k) for k in counts.__dataclass_fields__},
    )
    return counts

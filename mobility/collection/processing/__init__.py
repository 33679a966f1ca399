"""Submission → domain rows, through the bound target's own file importer.

Each accepted submission is turned into the target's input — a small CSV in the importer's columns,
one row per repeat entry where the target is one row per group — and run as an ``ImportJob`` by
``core.imports.run``: the same validation, the same row errors, the same all-or-nothing write as a
file. Which domain rows a submission produced is kept in ``SubmissionOutput``, so that:

- re-processing a submission updates its rows, never duplicates them;
- an edit (meta/deprecatedID) replaces the rows of the version it edits: rows the old version made
  and the new one does not make again are removed, unless another current submission made them too;
- one assessment per place × round × type: when two submissions describe the same place, the one
  submitted last (server time, then id) is counted; the other needs attention (flag ``place_taken``)
  and keeps its values, so a data manager can correct its place. The rule does not depend on the
  order in which submissions are processed.

Queued submissions of a form are processed in batches (one job for up to ``BATCH_SIZE``
submissions, row N ↔ submission): a batch never holds two submissions for the same place or event,
and a batch that fails is split — submissions with row errors run alone (their errors are their
own), the others run again together — so one bad submission never blocks the rest and the outcome
is the one of processing them one at a time.

Modules: ``inputs`` (submission → the importer's CSV), ``outputs`` (what a job wrote, latest wins,
edits), ``errors`` (row errors told per submission), ``queue`` (batches, locks, the per-form queue),
``corrections``; ``common`` holds the shared constants and messages.
"""

from __future__ import annotations

from .common import (
    ASSESSMENT,
    BATCH_SIZE,
    CORRECTION_EMPTY,
    CORRECTION_ENTRY_UNKNOWN,
    CORRECTION_FIELD_UNKNOWN,
    CORRECTION_IN_REPEAT,
    CORRECTION_SUPERSEDED,
    CORRECTION_VALUE,
    EVENT,
    FLAG_PLACE_TAKEN,
    MORE_ERRORS,
    MOVEMENT,
    NO_ENTRIES,
    PLACE_TAKEN,
    PROCESSING_FAILED,
    SHOWN_ERRORS,
)
from .corrections import submission_correct
from .errors import SubmissionError, submission_errors
from .inputs import Plan, Prepared, repeat_entries
from .queue import (
    ProcessCounts,
    _form_lock,
    form_pending_process,
    form_reprocess,
    submission_process,
    submission_process_by_id,
    submissions_process,
)

__all__ = [
    "ASSESSMENT",
    "BATCH_SIZE",
    "CORRECTION_EMPTY",
    "CORRECTION_ENTRY_UNKNOWN",
    "CORRECTION_FIELD_UNKNOWN",
    "CORRECTION_IN_REPEAT",
    "CORRECTION_SUPERSEDED",
    "CORRECTION_VALUE",
    "EVENT",
    "FLAG_PLACE_TAKEN",
    "MORE_ERRORS",
    "MOVEMENT",
    "NO_ENTRIES",
    "PLACE_TAKEN",
    "PROCESSING_FAILED",
    "SHOWN_ERRORS",
    "Plan",
    "Prepared",
    "ProcessCounts",
    "SubmissionError",
    "_form_lock",
    "form_pending_process",
    "form_reprocess",
    "repeat_entries",
    "submission_correct",
    "submission_errors",
    "submission_process",
    "submission_process_by_id",
    "submissions_process",
]

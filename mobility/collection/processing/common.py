"""Constants and messages shared by the processing modules, and the submission flags they set."""

from __future__ import annotations

# Submissions per import job. Each job reads the round's stored assessments once (tracking's writer
# compares against them), so bigger batches amortise that read; 500 keeps SQLite's write lock short.
BATCH_SIZE = 500
SHOWN_ERRORS = 20

ASSESSMENT = "tracking.assessment"
EVENT = "tracking.event"
MOVEMENT = "tracking.groupmovement"
FLAG_PLACE_TAKEN = "place_taken"

NO_ENTRIES = 'the submission has no entries in the repeat "{repeat}", so there is no row to import'
PLACE_TAKEN = (
    "a newer submission ({instance}) describes the same place: it is counted for the {type} assessment of "
    "{place} in round {round}, and this one is not. Correct this one's place if it describes another place."
)
CORRECTION_SUPERSEDED = "This submission was replaced by an edit; correct the current version instead."
CORRECTION_FIELD_UNKNOWN = 'The form has no field "{path}".'
CORRECTION_IN_REPEAT = '"{path}" is in the repeat "{repeat}": name the entry, e.g. "{repeat}[1]/{name}".'
CORRECTION_ENTRY_UNKNOWN = 'The submission has no entry {n} in the repeat "{repeat}".'
CORRECTION_VALUE = "The correction of {path} must be a text or a number."
CORRECTION_EMPTY = "Give at least one correction."
MORE_ERRORS = "… and more: see import job {job}"
PROCESSING_FAILED = (
    "Processing stopped on an internal error (reference: submission {pk}); nothing was stored."
)

_BATCH_MIXED = "rows of two submissions made one record"  # internal: the batch is re-run one by one


def _flags_with(flags: list, code: str, message: str) -> list:
    kept = [f for f in flags or [] if f.get("code") != code]
    return [*kept, {"code": code, "message": message}]


def _flags_without(flags: list, code: str) -> list:
    return [f for f in flags or [] if f.get("code") != code]

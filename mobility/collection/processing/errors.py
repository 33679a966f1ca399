"""The row errors of a submission's job, told in the submission's words (repeat entry, form field)."""

from __future__ import annotations

from dataclasses import dataclass

from mobility.core.models import ImportJob

from ..bindings import binding_repeat
from ..models import Binding, Submission
from .common import MORE_ERRORS, SHOWN_ERRORS
from .inputs import Plan


@dataclass
class SubmissionError:
    """A row error of the submission's job, told in the submission's words (repeat entry, form field)."""

    row: int | None
    entry: int | None
    repeat: str
    column: str
    field: str
    value: str
    message: str

    @property
    def text(self) -> str:
        parts = []
        if self.row:
            parts.append(f"row {self.row}" + (f" ({self.repeat} #{self.entry})" if self.entry else ""))
        if self.column:
            parts.append(f"column {self.column}" + (f" (form field {self.field})" if self.field else ""))
        where = ", ".join(parts)
        quoted = f'"{self.value}"'
        # Some importers' messages quote the value already.
        value = f"{quoted} " if self.value and not self.message.startswith(quoted) else ""
        return f"{where}: {value}{self.message}" if where else f"{value}{self.message}"


def _errors_of(job: ImportJob, binding: Binding, repeat: str, personal: set[str]) -> list[SubmissionError]:
    """The row errors of a one-submission job: CSV line N is the submission's row N - 1 (its repeat
    entry N - 1 when the mapping reads a repeat). A field outside the repeat is told once, not per row."""
    out, seen = [], set()
    for error in job.row_errors.all()[: SHOWN_ERRORS * 5]:
        path = binding.mapping.get(error.column, "")
        in_repeat = bool(repeat) and path.startswith(f"{repeat}/")
        row = error.row - 1 if error.row else None
        if repeat and not in_repeat and path:
            key = (error.column, error.value, error.message)
            if key in seen:
                continue
            seen.add(key)
            row = None
        out.append(
            SubmissionError(
                row=row,
                entry=row if in_repeat else None,
                repeat=repeat,
                column=error.column,
                field=path,
                value="" if path in personal else error.value,
                message=error.message,
            )
        )
        if len(out) >= SHOWN_ERRORS:
            break
    return out


def submission_errors(submission: Submission) -> list[SubmissionError]:
    """The row errors that keep a submission in "needs attention" (empty when it has none)."""
    if submission.import_job_id is None or submission.binding_id is None:
        return []
    binding = submission.binding
    version = submission.form.current_version
    repeat = binding_repeat(binding, version) if version else ""
    personal = version.personal_paths if version else set()
    return _errors_of(submission.import_job, binding, repeat, personal)


def _error_text(job: ImportJob, plan: Plan) -> str:
    version = plan.binding.form.current_version
    personal = version.personal_paths if version else set()
    errors = _errors_of(job, plan.binding, plan.repeat, personal)
    if not errors:
        return job.error
    more = [MORE_ERRORS.format(job=job.pk)] if len(errors) >= SHOWN_ERRORS else []
    return "\n".join([e.text for e in errors] + more)

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
"""

from __future__ import annotations

import csv
import io
import logging
import re
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone

from mobility.core.imports import (
    JOB_INTERNAL_ERROR,
    ImportFailed,
    NullProgress,
    importer_for,
    job_create,
    register,
    run,
)
from mobility.core.models import ImportJob, Round
from mobility.core.services import audit_record

from .bindings import TargetSpec, binding_current, binding_repeat, fields_by_path, target_spec
from .models import Binding, Form, Submission, SubmissionOutput

log = logging.getLogger(__name__)

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


# --- the importer, seen from here -------------------------------------------------------------------


class _Observed:
    """A registered importer, wrapped so that a job started here can see (and filter) what it writes.

    Jobs that did not come from submissions carry no hook and go straight through.
    """

    def __init__(self, inner):
        self.inner = inner
        self.kind = inner.kind
        self.label = inner.label

    def read(self, *, job, progress):
        return self.inner.read(job=job, progress=progress)

    def write(self, *, job, data, progress):
        hook = getattr(job, "collection_hook", None)
        if hook is not None:
            data = hook.before_write(data)
        counts = self.inner.write(job=job, data=data, progress=progress)
        if hook is not None:
            counts.summary["removed"] = hook.after_write(data)
        return counts

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _observed(kind: str) -> None:
    import mobility.tracking.importers  # noqa: F401 - registers the tracking importers

    importer = importer_for(kind)
    if not isinstance(importer, _Observed):
        register(_Observed(importer))


# --- submission → rows ------------------------------------------------------------------------------


def repeat_entries(values: dict, repeat: str) -> list[dict]:
    """The entries of a repeat (a single entry may have been stored flat when the form was unknown)."""
    items = values.get(repeat)
    if isinstance(items, dict):
        return [items]
    if isinstance(items, list):
        return [item for item in items if isinstance(item, dict)]
    flat = {k: v for k, v in values.items() if k.startswith(f"{repeat}/")}
    return [flat] if flat else []


def _cell(value, kind: str, column: str) -> str:
    if value is None or isinstance(value, list | dict):
        return ""
    text = str(value).strip()
    if kind == "geopoint" and column in ("latitude", "longitude"):
        parts = text.split()
        at = 0 if column == "latitude" else 1
        return parts[at] if len(parts) > at else ""
    if kind in ("select all that apply", "select_multiple") or kind.startswith("select_multiple"):
        return ";".join(text.split())
    # One line per cell, so that the job's row numbers stay the submission's rows.
    return " ".join(text.splitlines())


@dataclass
class Prepared:
    """One submission as rows of the target's input."""

    submission: Submission
    rows: list[dict[str, str]] = field(default_factory=list)
    entries: list[int | None] = field(default_factory=list)  # repeat entry number of each row
    key: tuple = ()  # values identifying the domain row: never twice in one batch
    error: str = ""


@dataclass
class Plan:
    """A binding as the processing needs it: spec, columns, field types, repeat."""

    binding: Binding
    spec: TargetSpec
    columns: list[str]
    kinds: dict[str, str]
    repeat: str

    @classmethod
    def of(cls, binding: Binding) -> Plan:
        form = binding.form
        spec = target_spec(binding.target)
        version = form.current_version
        fields = fields_by_path(version) if version else {}
        return cls(
            binding=binding,
            spec=spec,
            columns=spec.columns(form.operation),
            kinds={path: fields.get(path, {}).get("type", "") for path in binding.mapping.values()},
            repeat=binding_repeat(binding, version) if version else "",
        )

    def prepare(self, submission: Submission) -> Prepared:
        values = submission.values
        mapping, kinds, repeat = self.binding.mapping, self.kinds, self.repeat
        base = {
            column: _cell(values.get(path), kinds[path], column)
            for column, path in mapping.items()
            if not (repeat and path.startswith(f"{repeat}/"))
        }
        for key, value in self.binding.constants.items():
            if key not in self.spec.profile_keys:
                base[key] = str(value)
        prepared = Prepared(submission)
        if not repeat:
            prepared.rows, prepared.entries = [base], [None]
        else:
            inside = {c: p for c, p in mapping.items() if p.startswith(f"{repeat}/")}
            entries = repeat_entries(values, repeat)
            if not entries:
                prepared.error = NO_ENTRIES.format(repeat=repeat)
                return prepared
            for number, entry in enumerate(entries, start=1):
                row = dict(base)
                row.update({c: _cell(entry.get(p), kinds[p], c) for c, p in inside.items()})
                prepared.rows.append(row)
                prepared.entries.append(number)
        first = prepared.rows[0]
        prepared.key = tuple(first.get(c, "").strip().upper() for c in self.spec.identity)
        return prepared

    def header(self, rows: list[dict]) -> list[str]:
        present = {c for row in rows for c in row}
        return [c for c in self.columns if c in present] + sorted(present - set(self.columns))

    def profile(self, submission_ids: list[int]) -> dict:
        form = self.binding.form
        profile = {"operation": form.operation_id}
        if "round" in self.binding.constants:
            profile["round"] = self.binding.constants["round"]
        profile["collection"] = {"form": form.pk, "binding": self.binding.pk, "submissions": submission_ids}
        return profile


def _csv(header: list[str], rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(c, "") for c in header])
    return out.getvalue().encode("utf-8")


# --- what a job wrote -------------------------------------------------------------------------------


_ROW_REF = re.compile(r"row (\d+)")


@dataclass
class _Item:
    """One record of the importer's data: its identity and the submission its rows came from."""

    obj: object
    identity: tuple
    submission_id: int


class _Hook:
    """Runs inside the job's write transaction: latest-wins per place, outputs, replaced rows."""

    def __init__(self, plan: Plan, prepared: list[Prepared], row_map: dict[int, tuple[int, int | None]]):
        self.plan = plan
        self.form = plan.binding.form
        self.by_id = {p.submission.pk: p.submission for p in prepared}
        self.row_map = row_map
        self.lost: dict[int, str] = {}  # submission id → the message saying who holds its place
        self.written: set[int] = set()  # submissions whose rows were written
        self.removed = 0
        self.freed = False

    # The importers' data, per target.
    def _items(self, data) -> list[_Item]:
        target = self.plan.binding.target
        items = []
        if target == Binding.Target.BASELINE:
            for record in data:
                rows = {int(n) for n in _ROW_REF.findall(record.source_ref)}
                rows.add(record.first_row)
                items.append(_Item(record, record.identity(), self._submission_of(rows)))
        elif target == Binding.Target.SITE:
            for site in data["rows"]:
                items.append(_Item(site, (site.round_id, "SA", site.code), self._submission_of({site.row})))
        else:
            for record in data["records"]:
                items.append(_Item(record, (record.code,), self._submission_of({record.first_row})))
        return items

    def _submission_of(self, rows: set) -> int:
        owners = {self.row_map[r][0] for r in rows if r in self.row_map}
        if len(owners) != 1:
            raise ImportFailed(_BATCH_MIXED)
        return owners.pop()

    def _rebuild(self, data, items: list[_Item]):
        kept = [i.obj for i in items]
        target = self.plan.binding.target
        if target == Binding.Target.BASELINE:
            return kept
        key = "rows" if target == Binding.Target.SITE else "records"
        return {**data, key: kept}

    def before_write(self, data):
        items = self._items(data)
        if self.plan.binding.target == Binding.Target.BASELINE:
            self._provenance(items)
        if self.plan.binding.target != Binding.Target.EVENT:
            items = self._latest_wins(items)
        self.items = items
        return self._rebuild(data, items)

    def _provenance(self, items: list[_Item]) -> None:
        """Name the form and the submission instead of the job's CSV rows, which depend on the batch."""

        def entries(ref: str, instance_id: str) -> str:
            numbers = [self.row_map.get(int(n), (0, None))[1] for n in _ROW_REF.findall(ref)]
            return ",".join(f"{instance_id} #{n}" if n else instance_id for n in numbers)[:200]

        for item in items:
            record, instance_id = item.obj, self.by_id[item.submission_id].instance_id
            record.source = f"form:{self.form.xml_form_id}"[:64]
            record.source_ref = instance_id[:200]
            for figure in record.figures.values():
                for part in figure.parts:
                    part.source_ref = entries(part.source_ref, instance_id)

    def _latest_wins(self, items: list[_Item]) -> list[_Item]:
        """Drop the records of a place that a newer current submission (outside this job) holds."""
        from mobility.tracking.models import Assessment

        if not items:
            return items
        identities = {i.identity for i in items}
        ids = {
            (round_id, atype, key): pk
            for pk, round_id, atype, key in Assessment.objects.filter(
                round_id__in={i[0] for i in identities}, place_key__in={i[2] for i in identities}
            ).values_list("pk", "round_id", "assessment_type", "place_key")
            if (round_id, atype, key) in identities
        }
        if not ids:
            return items
        holders = defaultdict(list)
        for object_id, pk, root_id, submitted_at, instance_id in SubmissionOutput.objects.filter(
            model=ASSESSMENT,
            object_id__in=ids.values(),
            submission__superseded_by__isnull=True,
        ).values_list(
            "object_id",
            "submission_id",
            "submission__root_id",
            "submission__submitted_at",
            "submission__instance_id",
        ):
            holders[object_id].append((pk, root_id, submitted_at, instance_id))
        rounds = dict(Round.objects.filter(pk__in={i[0] for i in ids}).values_list("pk", "number"))
        kept = []
        for item in items:
            mine = self.by_id[item.submission_id]
            newer = [
                h
                for h in holders.get(ids.get(item.identity), [])
                if h[0] not in self.by_id
                and not (h[1] == mine.root_id)
                and (h[2], h[0]) > (mine.submitted_at, mine.pk)
            ]
            if newer:
                round_id, atype, place = item.identity
                self.lost[item.submission_id] = PLACE_TAKEN.format(
                    instance=newer[0][3], type=atype, place=place, round=rounds.get(round_id, round_id)
                )
            else:
                kept.append(item)
        return kept

    def after_write(self, data) -> int:
        """Record the outputs, take places from older submissions, remove rows an edit replaced."""
        new = self._outputs(self.items)
        batch_ids = set(self.by_id)
        roots = {s.root_id for s in self.by_id.values()}
        chain_of = dict(
            Submission.objects.filter(form=self.form, root_id__in=roots)
            .exclude(pk__in=batch_ids)
            .values_list("pk", "root_id")
        )
        involved = batch_ids | set(chain_of)
        old_by_root: dict[str, set[tuple[str, int]]] = defaultdict(set)
        for submission_id, model, object_id in SubmissionOutput.objects.filter(
            submission_id__in=involved
        ).values_list("submission_id", "model", "object_id"):
            root = (
                self.by_id[submission_id].root_id if submission_id in self.by_id else chain_of[submission_id]
            )
            old_by_root[root].add((model, object_id))
        new_by_root: dict[str, set[tuple[str, int]]] = defaultdict(set)
        for submission_id, outputs in new.items():
            new_by_root[self.by_id[submission_id].root_id] |= outputs
        produced = set().union(*new.values()) if new else set()
        candidates = set()
        for root, old in old_by_root.items():
            candidates |= old - new_by_root.get(root, set())
        candidates -= produced
        # Outputs of this job's submissions and of the versions they replace: replaced by the new ones.
        SubmissionOutput.objects.filter(submission_id__in=involved).delete()
        SubmissionOutput.objects.bulk_create(
            [
                SubmissionOutput(submission_id=submission_id, model=model, object_id=object_id)
                for submission_id, outputs in new.items()
                for model, object_id in outputs
            ],
            ignore_conflicts=True,
        )
        self.written = set(new)
        self._take_places(new, batch_ids)
        return self._remove(candidates)

    def _outputs(self, items: list[_Item]) -> dict[int, set[tuple[str, int]]]:
        from mobility.tracking.models import Assessment, Event, GroupMovement

        out: dict[int, set[tuple[str, int]]] = defaultdict(set)
        if not items:
            return out
        if self.plan.binding.target != Binding.Target.EVENT:
            identities = {i.identity for i in items}
            ids = {
                (round_id, atype, key): pk
                for pk, round_id, atype, key in Assessment.objects.filter(
                    round_id__in={i[0] for i in identities}, place_key__in={i[2] for i in identities}
                ).values_list("pk", "round_id", "assessment_type", "place_key")
            }
            for item in items:
                if item.identity in ids:
                    out[item.submission_id].add((ASSESSMENT, ids[item.identity]))
            return out
        events = dict(
            Event.objects.filter(
                operation_id=self.form.operation_id, code__in=[i.obj.code.strip() for i in items]
            ).values_list("code", "pk")
        )
        movements = defaultdict(dict)
        for event_id, code, pk in GroupMovement.objects.filter(event_id__in=events.values()).values_list(
            "event_id", "code", "pk"
        ):
            movements[event_id][code] = pk
        for item in items:
            event_id = events.get(item.obj.code.strip())
            if event_id is None:
                continue
            out[item.submission_id].add((EVENT, event_id))
            for code in item.obj.movements:
                if code in movements[event_id]:
                    out[item.submission_id].add((MOVEMENT, movements[event_id][code]))
        return out

    def _take_places(self, new: dict[int, set[tuple[str, int]]], batch_ids: set[int]) -> None:
        """Older current submissions that held these assessments lose them (latest wins)."""
        from mobility.tracking.models import Assessment

        winners = {
            object_id: self.by_id[submission_id].instance_id
            for submission_id, outputs in new.items()
            for model, object_id in outputs
            if model == ASSESSMENT
        }
        if not winners:
            return
        losers = list(
            SubmissionOutput.objects.filter(model=ASSESSMENT, object_id__in=winners)
            .exclude(submission_id__in=batch_ids)
            .select_related("submission")
        )
        if not losers:
            return
        describe = {
            a.pk: (a.assessment_type, a.place_key, a.round.number)
            for a in Assessment.objects.filter(pk__in={o.object_id for o in losers}).select_related("round")
        }
        SubmissionOutput.objects.filter(pk__in=[o.pk for o in losers]).delete()
        for output in losers:
            submission = output.submission
            if submission.superseded_by_id is not None:
                continue
            atype, place, number = describe[output.object_id]
            message = PLACE_TAKEN.format(
                instance=winners[output.object_id], type=atype, place=place, round=number
            )
            flags = _flags_with(submission.flags, FLAG_PLACE_TAKEN, message)
            update = {"flags": flags}
            if not submission.outputs.exists():
                update.update(status=Submission.Status.NEEDS_ATTENTION, error=message)
            Submission.objects.filter(pk=submission.pk).update(**update)

    def _remove(self, candidates: set[tuple[str, int]]) -> int:
        """Delete rows no current submission produces any more (rows a file import took over stay)."""
        if not candidates:
            return 0
        held = set(
            SubmissionOutput.objects.filter(
                object_id__in={object_id for _, object_id in candidates},
                submission__superseded_by__isnull=True,
            ).values_list("model", "object_id")
        )
        gone = candidates - held
        if not gone:
            return 0
        from mobility.tracking.analytics import analytics_refresh
        from mobility.tracking.models import Assessment, Event, GroupMovement
        from mobility.tracking.services import ROUND_CLOSED

        def ours(job_ids) -> set[int]:
            """The jobs among these that processed submissions (not file imports)."""
            return set(
                Submission.objects.filter(import_job_id__in={j for j in job_ids if j}).values_list(
                    "import_job_id", flat=True
                )
            )

        removed = 0
        assessments = list(
            Assessment.objects.filter(pk__in=[i for m, i in gone if m == ASSESSMENT]).select_related(
                "round", "round__operation"
            )
        )
        mine = ours(a.import_job_id for a in assessments)
        assessments = [a for a in assessments if a.import_job_id is None or a.import_job_id in mine]
        rounds = set()
        for assessment in assessments:
            round_ = assessment.round
            if round_.status in (Round.Status.PUBLISHED, Round.Status.SUPERSEDED):
                raise ImportFailed(
                    ROUND_CLOSED.format(
                        number=round_.number, operation=round_.operation, status=round_.status
                    )
                )
            rounds.add(round_.pk)
        if assessments:
            removed += len(assessments)
            Assessment.objects.filter(pk__in=[a.pk for a in assessments]).delete()
            for round_id in sorted(rounds):
                analytics_refresh(round_id=round_id)
        movements = list(
            GroupMovement.objects.filter(pk__in=[i for m, i in gone if m == MOVEMENT]).values_list(
                "pk", "event_id", "event__import_job_id"
            )
        )
        events = list(
            Event.objects.filter(pk__in=[i for m, i in gone if m == EVENT]).values_list("pk", "import_job_id")
        )
        mine = ours([j for _, _, j in movements] + [j for _, j in events])
        doomed = [pk for pk, _, job_id in movements if job_id is None or job_id in mine]
        if doomed:
            removed += GroupMovement.objects.filter(pk__in=doomed).delete()[0]
        # An event goes when no current submission produces it and it has no movement left.
        empty = [
            pk
            for pk, job_id in events
            if (job_id is None or job_id in mine) and not GroupMovement.objects.filter(event_id=pk).exists()
        ]
        if empty:
            removed += len(empty)
            Event.objects.filter(pk__in=empty).delete()
        self.removed = removed
        self.freed = bool(removed)
        return removed


def _flags_with(flags: list, code: str, message: str) -> list:
    kept = [f for f in flags or [] if f.get("code") != code]
    return [*kept, {"code": code, "message": message}]


def _flags_without(flags: list, code: str) -> list:
    return [f for f in flags or [] if f.get("code") != code]


# --- errors of a submission -------------------------------------------------------------------------


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
    _observed(plan.spec.kind)
    job = job_create(
        kind=plan.spec.kind,
        source=ContentFile(_csv(plan.header(rows), rows), name=name),
        original_name=name,
        profile=plan.profile(ids),
        operation=form.operation,
        by=by if getattr(by, "pk", None) else None,
    )
    hook = _Hook(plan, batch, row_map)
    job.collection_hook = hook
    job = run(job)
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


# --- corrections ------------------------------------------------------------------------------------

_ENTRY = re.compile(r"^(?P<repeat>.+?)\[(?P<n>\d+)\]/(?P<rest>.+)$")


def submission_correct(*, submission: Submission, corrections: dict, by) -> Submission:
    """Store a data manager's corrections ({path: value}; "rpt[2]/q" for a repeat entry) and re-process.

    The submission's data and raw body stay as received; ``Submission.values`` applies the corrections.
    """
    from .selectors import version_of

    if not submission.is_current:
        raise ValidationError(CORRECTION_SUPERSEDED)
    if not corrections:
        raise ValidationError(CORRECTION_EMPTY)
    version = version_of(submission)
    fields = {}
    for v in (version, submission.form.current_version):
        if v is not None:
            fields = {**fields_by_path(v), **fields}
    values = submission.values
    stored = dict(submission.corrections or {})
    errors: list[str] = []
    for key, value in corrections.items():
        if isinstance(value, bool) or not (value is None or isinstance(value, str | int | float)):
            errors.append(CORRECTION_VALUE.format(path=key))
            continue
        text = "" if value is None else str(value).strip()
        path = str(key).strip().lstrip("/")
        if path.startswith("data/") and path not in fields:
            path = path[len("data/") :]
        entry = _ENTRY.match(path)
        if entry:
            repeat, number = entry["repeat"], int(entry["n"])
            target = f"{repeat}/{entry['rest']}"
            if fields.get(repeat, {}).get("type") != "repeat" or target not in fields:
                errors.append(CORRECTION_FIELD_UNKNOWN.format(path=key))
                continue
            entries = [dict(e) for e in repeat_entries({**values, **stored}, repeat)]
            if not 1 <= number <= len(entries):
                errors.append(CORRECTION_ENTRY_UNKNOWN.format(n=number, repeat=repeat))
                continue
            entries[number - 1][target] = text
            stored[repeat] = entries
            continue
        if path not in fields or fields[path].get("type") in ("repeat", "group"):
            errors.append(CORRECTION_FIELD_UNKNOWN.format(path=key))
            continue
        if fields[path].get("repeat"):
            repeat = fields[path]["repeat"]
            errors.append(CORRECTION_IN_REPEAT.format(path=key, repeat=repeat, name=path[len(repeat) + 1 :]))
            continue
        stored[path] = text
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = Submission.objects.select_for_update().get(pk=submission.pk)
        if locked.superseded_by_id is not None:
            raise ValidationError(CORRECTION_SUPERSEDED)
        locked.corrections = stored
        locked.corrected_by = by if getattr(by, "pk", None) else None
        locked.corrected_at = timezone.now()
        locked.save(update_fields=["corrections", "corrected_by", "corrected_at"])
        audit_record(
            action="collection.submission_correct",
            obj=locked,
            by=by,
            operation=submission.form.operation,
            # Field paths only: the values may be personal.
            detail={"fields": sorted(str(k) for k in corrections)},
        )
    return submission_process(locked, by=by)

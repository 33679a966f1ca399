"""The importer input built from submissions: one CSV row per submission (or per repeat entry)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from ..bindings import TargetSpec, binding_repeat, fields_by_path, target_spec
from ..models import Binding, Submission
from .common import NO_ENTRIES

# --- the importer, seen from here -------------------------------------------------------------------


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
        if self.spec.auto_record_id:
            from mobility.flows.forms import record_id_for

            for row, entry in zip(prepared.rows, prepared.entries, strict=True):
                if not row.get("record_id"):
                    row["record_id"] = record_id_for(submission.root_id, entry)
        if self.spec.target == Binding.Target.REGISTRATION:
            from mobility.registration.forms_binding import rows_identify

            rows_identify(prepared.rows, prepared.entries, submission.root_id)
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
    # CRLF: an answer holding a CR (XML keeps "&#13;") is quoted, so it cannot split the row in two.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(c, "") for c in header])
    return out.getvalue().encode("utf-8")

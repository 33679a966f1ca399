"""Form submissions as a source of flow counts and flow surveys: what collection needs to know.

A form bound to the target "flows.counts" (or "flows.surveys") has its submissions run through
the importer ``flows.form-counts`` (or ``flows.surveys``), exactly as collection runs tracking
targets: the same row checks as a file, one transaction, and ``SubmissionOutput`` rows saying which
count or survey each submission made, so a re-processed submission updates its rows and an edit
replaces them. The collection code calls the functions below for these two targets.

The record id of a count or survey made from a form is the submission's first instance id (its
edit chain's root) and, when the binding reads a repeat, the entry number: ``uuid:…#2``. An edit
keeps the root, so it updates the rows of the version it edits. A binding may map ``record_id``
to a field instead (e.g. the team's paper form number).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable

from django.db import transaction

from . import analytics
from .models import FlowCount, FlowSurvey
from .services import summaries_rebuild
from .surveys import SURVEY_COLUMNS, personal_columns
from .template import TEMPLATE_COLUMNS

FLOW_COUNTS = "flows.counts"
FLOW_SURVEYS = "flows.surveys"
FLOW_TARGETS = (FLOW_COUNTS, FLOW_SURVEYS)
COUNT_MODEL = "flows.flowcount"
SURVEY_MODEL = "flows.flowsurvey"
MODELS = {FLOW_COUNTS: (COUNT_MODEL, FlowCount), FLOW_SURVEYS: (SURVEY_MODEL, FlowSurvey)}
ROW_KEY = "_row"
_ANSWER = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,99}$")


def target_columns(target: str) -> list[str]:
    """The columns a binding of this target maps (the importer's columns)."""
    return list(TEMPLATE_COLUMNS) if target == FLOW_COUNTS else list(SURVEY_COLUMNS)


def target_accepts(target: str, column: str) -> bool:
    """Counts take the template's columns; surveys also any other plain name (kept as an answer),
    but never one that looks like a name or a contact."""
    if column in target_columns(target):
        return True
    return target == FLOW_SURVEYS and bool(_ANSWER.match(column)) and not personal_columns([column])


def record_id_for(root_id: str, entry: int | None) -> str:
    """The record id of a count or survey made from a submission (see the module docstring)."""
    suffix = f"#{entry}" if entry else ""
    return (root_id or "")[: 64 - len(suffix)] + suffix


def items(data: dict) -> list[tuple[dict, tuple[int, str], int]]:
    """(row values, (fmp_id, record_id), source row) for each row the importer read."""
    return [(values, (values["fmp_id"], values["record_id"]), values[ROW_KEY]) for values in data["rows"]]


def rebuild(data: dict, kept: list[dict]) -> dict:
    return {**data, "rows": kept}


def outputs(target: str, pairs: list[tuple[tuple[int, str], int]]) -> dict[int, set[tuple[str, int]]]:
    """submission id → {(model, pk)} of the stored rows with these identities."""
    model_name, model = MODELS[target]
    out: dict[int, set[tuple[str, int]]] = defaultdict(set)
    if not pairs:
        return out
    identities = {identity for identity, _submission in pairs}
    stored = {
        (fmp_id, record_id): pk
        for pk, fmp_id, record_id in model.objects.filter(
            fmp_id__in={i[0] for i in identities}, record_id__in={i[1] for i in identities}
        ).values_list("pk", "fmp_id", "record_id")
    }
    for identity, submission_id in pairs:
        if identity in stored:
            out[submission_id].add((model_name, stored[identity]))
    return out


@transaction.atomic
def remove(gone: set[tuple[str, int]], ours: Callable[[list], set[int]]) -> int:
    """Delete the counts and surveys no current submission makes any more, and rebuild their days.

    ``ours(job_ids)`` says which jobs processed submissions: rows a file import has since taken over
    (their job is a file's) stay.
    """
    removed = 0
    for model_name, model in ((COUNT_MODEL, FlowCount), (SURVEY_MODEL, FlowSurvey)):
        ids = [pk for name, pk in gone if name == model_name]
        if not ids:
            continue
        rows = list(
            model.objects.filter(pk__in=ids).values_list("pk", "job_id", "operation_id", "fmp_id", "date")
        )
        mine = ours([job_id for _pk, job_id, *_rest in rows])
        doomed = [r for r in rows if r[1] is None or r[1] in mine]
        if not doomed:
            continue
        model.objects.filter(pk__in=[r[0] for r in doomed]).delete()
        removed += len(doomed)
        if model is FlowCount:
            scopes: dict[int, list] = defaultdict(list)
            for _pk, _job, operation_id, fmp_id, date in doomed:
                scopes[operation_id].append((fmp_id, date))
            for operation_id, touched in scopes.items():
                first, last = min(d for _f, d in touched), max(d for _f, d in touched)
                summaries_rebuild(
                    operation_id=operation_id, fmp_ids={f for f, _d in touched}, date_from=first, date_to=last
                )
                analytics.mirror_on_commit(operation_id, analytics.months_between(first, last), refresh=False)
    return removed

"""A data manager's corrections of a submission's values, then processing it again."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from mobility.core.services import audit_record

from ..bindings import fields_by_path
from ..models import Submission
from .common import (
    CORRECTION_EMPTY,
    CORRECTION_ENTRY_UNKNOWN,
    CORRECTION_FIELD_UNKNOWN,
    CORRECTION_IN_REPEAT,
    CORRECTION_SUPERSEDED,
    CORRECTION_VALUE,
)
from .inputs import repeat_entries
from .queue import submission_process

_ENTRY = re.compile(r"^(?P<repeat>.+?)\[(?P<n>\d+)\]/(?P<rest>.+)$")


def submission_correct(*, submission: Submission, corrections: dict, by) -> Submission:
    """Store a data manager's corrections ({path: value}; "rpt[2]/q" for a repeat entry) and re-process.

    The submission's data and raw body stay as received; ``Submission.values`` applies the corrections.
    """
    from ..selectors import version_of

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

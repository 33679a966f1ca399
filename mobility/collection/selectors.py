"""Reads of the collection app. Who may see personal fields is decided here, once."""

from __future__ import annotations

from django.db.models import QuerySet

from mobility.core.models import Operation
from mobility.core.permissions import Action, can, operations_for

from .models import Form, FormVersion, Submission


def personal_allowed(user, operation: Operation) -> bool:
    """Personal-data fields (marked in the XLSForm) are shown only to data managers and admins."""
    return can(user, Action.IMPORT, operation)


def forms_for(user, action: Action | str = Action.VIEW) -> QuerySet[Form]:
    return Form.objects.filter(operation__in=operations_for(user, action)).select_related(
        "operation", "current_version"
    )


def forms_to_submit(user, operation: Operation) -> QuerySet[Form]:
    """The forms a phone may list for this user: open forms of an operation where they may submit."""
    if not can(user, Action.SUBMIT, operation):
        return Form.objects.none()
    return Form.objects.filter(
        operation=operation, state=Form.State.OPEN, current_version__isnull=False
    ).select_related("current_version")


def version_of(submission: Submission) -> FormVersion | None:
    return submission.form_version or submission.form.current_version


def visible_values(submission: Submission, *, allowed_personal: bool) -> dict:
    """The submission's values (with corrections) without personal fields unless allowed."""
    values = submission.values
    if allowed_personal:
        return values
    version = version_of(submission)
    personal = version.personal_paths if version else set()
    if not personal:
        return values
    return _without(values, personal)


def _without(values: dict, personal: set[str]) -> dict:
    out = {}
    for key, value in values.items():
        if key in personal:
            continue
        if isinstance(value, list):
            out[key] = [_without(item, personal) if isinstance(item, dict) else item for item in value]
        else:
            out[key] = value
    return out

"""Reads of the collection app. Who may see personal fields is decided here, once."""

from __future__ import annotations

import re

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery

from mobility.core.models import ImportRowError, Operation
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


# ---------------------------------------------------------------- pages (forms, submissions, attention)

MEDIA_REFERENCE = re.compile(r"jr://(?:file|file-csv|images|image|audio|video)/([^\s\"'<>)]+)")
SUBMISSION_ORDER = ("-submitted_at", "-id")


def form_rows(user) -> QuerySet[Form]:
    """The forms the user may view, with their counts, in one query."""
    current = ~Q(submissions__status=Submission.Status.SUPERSEDED)
    return (
        forms_for(user, Action.VIEW)
        .annotate(
            submission_count=Count("submissions", filter=current),
            attention_count=Count(
                "submissions", filter=Q(submissions__status=Submission.Status.NEEDS_ATTENTION)
            ),
            last_submitted_at=Max("submissions__submitted_at"),
        )
        .order_by("operation__name", "title", "pk")
    )


def media_referenced(version: FormVersion) -> list[str]:
    """Media file names the form needs on the phone: jr:// references in the XForm and CSV choice lists."""
    names = {match.rsplit("/", 1)[-1] for match in MEDIA_REFERENCE.findall(version.xml or "")}
    for field in version.fields or []:
        listed = str(field.get("list") or "")
        if listed.lower().endswith((".csv", ".xml", ".geojson")):
            names.add(listed)
    return sorted(names)


def media_missing(version: FormVersion) -> list[str]:
    have = set(version.media.values_list("name", flat=True))
    return [name for name in media_referenced(version) if name not in have]


def submission_points(submissions: QuerySet[Submission], limit: int = 5000) -> list[dict]:
    """GPS points of (filtered) submissions: coordinates, id, status and flag codes only, no values."""
    rows = submissions.filter(latitude__isnull=False, longitude__isnull=False).values(
        "pk", "instance_id", "status", "flags", "latitude", "longitude"
    )[:limit]
    return [
        {
            "id": row["pk"],
            "instance_id": row["instance_id"],
            "status": row["status"],
            "flags": [str(f.get("code", "")) for f in row["flags"] or [] if isinstance(f, dict)],
            "lat": row["latitude"],
            "lon": row["longitude"],
        }
        for row in rows
    ]


def submission_enumerators(form: Form, limit: int = 500) -> list[str]:
    return list(
        Submission.objects.filter(form=form)
        .exclude(enumerator="")
        .order_by("enumerator")
        .values_list("enumerator", flat=True)
        .distinct()[:limit]
    )


def submission_flag_codes(form: Form, scan: int = 2000) -> list[str]:
    """Flag codes seen on the form's newest flagged submissions (for the filter's choices)."""
    codes: set[str] = set()
    flagged = Submission.objects.filter(form=form).exclude(flags=[]).order_by(*SUBMISSION_ORDER)
    for flags in flagged.values_list("flags", flat=True)[:scan]:
        codes.update(str(f.get("code")) for f in flags or [] if isinstance(f, dict) and f.get("code"))
    return sorted(codes)


def submissions_for(user) -> QuerySet[Submission]:
    """Submissions of the forms the user may view."""
    return Submission.objects.filter(form__in=forms_for(user, Action.VIEW).values("pk"))


def submission_chain(submission: Submission) -> list[Submission]:
    """Every version of the instance (edits share the root id), oldest first."""
    return list(
        Submission.objects.filter(form_id=submission.form_id, root_id=submission.root_id)
        .order_by("received_at", "id")
        .only("pk", "instance_id", "deprecated_id", "status", "submitted_at", "superseded_by_id")
    )


def attention_list(user) -> QuerySet[Submission]:
    """Submissions waiting for a data manager, in the forms the user may import into, with their first error."""
    first_error = ImportRowError.objects.filter(job=OuterRef("import_job")).order_by("row", "id")
    return (
        Submission.objects.filter(
            form__in=forms_for(user, Action.IMPORT).values("pk"), status=Submission.Status.NEEDS_ATTENTION
        )
        .select_related("form", "form__operation")
        .annotate(
            first_error_row=Subquery(first_error.values("row")[:1]),
            first_error_column=Subquery(first_error.values("column")[:1]),
            first_error_message=Subquery(first_error.values("message")[:1]),
        )
        .order_by(*SUBMISSION_ORDER)
    )


def collect_usernames(operation: Operation) -> list[str]:
    """Users who may send submissions to the operation (for the ODK Collect settings code)."""
    from mobility.core.models import Membership
    from mobility.core.permissions import ALLOWED

    return list(
        Membership.objects.filter(operation=operation, role__in=ALLOWED[Action.SUBMIT], user__is_active=True)
        .order_by("user__username")
        .values_list("user__username", flat=True)
    )

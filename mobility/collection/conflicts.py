"""Resolving a conflict: a different body that arrived under an instanceID already stored.

Nothing is lost either way. A resolved conflict row always holds the body that is *not* stored:
"keep" leaves it as it came; "replace" swaps it with the stored body, so the earlier body stays
in the conflict row and the submission takes the new one (then is processed again).
"""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from mobility.core.services import audit_record

from . import services
from .models import Submission, SubmissionConflict
from .xforms import InstanceError, content_sha256, instance_parse, repeat_paths

CONFLICT_RESOLVED = "This conflict was resolved already ({resolution})."
CONFLICT_RESOLUTION_UNKNOWN = 'Unknown resolution "{resolution}": keep the stored submission or replace it.'
CONFLICT_NOT_XML = (
    "Only a submission received as XML can be replaced by a conflicting body; this one came as {fmt}."
)
CONFLICT_SUPERSEDED = (
    "The stored submission was replaced by an edit; resolve the conflict on the newest version."
)
CONFLICT_OTHER_INSTANCE = "The conflicting body is of instance {found}, not {expected}; it cannot replace it."
SUBMISSION_SUPERSEDED = "This submission was replaced by an edit; process the newest version instead."


@transaction.atomic
def conflict_resolve(*, conflict: SubmissionConflict, resolution: str, by) -> SubmissionConflict:
    """Keep the stored submission, or replace its body with the conflicting one and process it again."""
    conflict = SubmissionConflict.objects.select_for_update().get(pk=conflict.pk)
    if conflict.resolution != SubmissionConflict.Resolution.OPEN:
        raise ValidationError(CONFLICT_RESOLVED.format(resolution=conflict.get_resolution_display()))
    if resolution not in (SubmissionConflict.Resolution.KEPT_STORED, SubmissionConflict.Resolution.REPLACED):
        raise ValidationError(CONFLICT_RESOLUTION_UNKNOWN.format(resolution=resolution))
    submission = Submission.objects.select_for_update().get(pk=conflict.submission_id)
    if resolution == SubmissionConflict.Resolution.REPLACED:
        _replace(submission, conflict)
    conflict.resolution = resolution
    conflict.resolved_by = by if getattr(by, "pk", None) else None
    conflict.resolved_at = timezone.now()
    conflict.full_clean()
    conflict.save()
    audit_record(
        action="collection.conflict_resolve",
        obj=submission,
        by=by,
        operation=submission.form.operation,
        detail={"conflict": conflict.pk, "resolution": resolution},
    )
    if resolution == SubmissionConflict.Resolution.REPLACED:
        services._queue_processing(submission)
    return conflict


def _replace(submission: Submission, conflict: SubmissionConflict) -> None:
    if submission.superseded_by_id is not None:
        raise ValidationError(CONFLICT_SUPERSEDED)
    if submission.raw_format != "xml":
        raise ValidationError(CONFLICT_NOT_XML.format(fmt=submission.raw_format))
    new_raw = bytes(conflict.raw)
    version = submission.form_version
    try:
        instance = instance_parse(new_raw, repeat_paths(version.fields) if version else None)
    except InstanceError as exc:
        raise ValidationError(str(exc)) from None
    if instance.instance_id != submission.instance_id:
        raise ValidationError(
            CONFLICT_OTHER_INSTANCE.format(found=instance.instance_id, expected=submission.instance_id)
        )
    if instance.version and instance.version != submission.version_string:
        version = submission.form.versions.filter(version=instance.version).first() or version
    old_raw, old_sha = bytes(submission.raw), submission.raw_sha256
    values = instance.data
    lat, lon = services._gps(values, version)
    submission.form_version = version
    submission.version_string = instance.version[:255]
    submission.raw = new_raw
    submission.raw_sha256 = hashlib.sha256(new_raw).hexdigest()
    submission.data = values
    submission.content_sha256 = content_sha256(values)
    submission.latitude, submission.longitude = lat, lon
    submission.area_code = services._area(values)
    submission.started_at = services._when(
        services._first(values, version, "start") or str(values.get("start") or "")
    )
    submission.ended_at = services._when(
        services._first(values, version, "end") or str(values.get("end") or "")
    )
    # Corrections were made to the earlier body; they do not carry over to a different one.
    submission.corrections, submission.corrected_by, submission.corrected_at = {}, None, None
    submission.status, submission.error, submission.processed_at = Submission.Status.RECEIVED, "", None
    submission.save()
    # The conflict row keeps the body that lost, so nothing is dropped.
    conflict.raw, conflict.raw_sha256 = old_raw, old_sha
    from .quality import flags_on_arrival

    flags_on_arrival(submission)  # replaces the quality flags, keeps processing's own


def submission_reprocess_request(*, submission: Submission, by) -> Submission:
    """Run a submission through its form's binding again, now (the page's "Re-process" button)."""
    from .processing import submission_process

    submission = Submission.objects.select_related("form__operation").get(pk=submission.pk)
    if submission.superseded_by_id is not None:
        raise ValidationError(SUBMISSION_SUPERSEDED)
    audit_record(
        action="collection.submission_reprocess",
        obj=submission,
        by=by,
        operation=submission.form.operation,
        detail={"instance_id": submission.instance_id},
    )
    # One submission: processed in the request, so the page shows the outcome at once.
    return submission_process(submission, by=by)

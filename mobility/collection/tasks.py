"""Background jobs of the collection app (huey; immediate in tests)."""

import datetime as dt

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from .pull_tasks import pull_due_sources, pull_source  # noqa: F401  (registers the periodic pull)

QUEUED_GRACE = dt.timedelta(seconds=30)


@db_task()
def process_submission(submission_id: int) -> None:
    from .processing import submission_process_by_id

    submission_process_by_id(submission_id)


@db_periodic_task(crontab(minute="*"))
def process_forgotten_submissions() -> list[int]:
    """Safety net: forms with submissions still queued after 30 s (a worker died, or gave way to
    another that had already fetched its last batch) are processed again. Idempotent."""
    from django.utils import timezone

    from .models import Form, Submission
    from .processing import form_pending_process

    form_ids = sorted(
        set(
            Submission.objects.filter(
                status=Submission.Status.RECEIVED,
                superseded_by__isnull=True,
                received_at__lt=timezone.now() - QUEUED_GRACE,
            ).values_list("form_id", flat=True)
        )
    )
    for form in Form.objects.filter(pk__in=form_ids):
        form_pending_process(form)
    return form_ids

"""Scheduled pulls (huey): every minute, pull the Kobo / Central sources whose interval has passed."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

log = logging.getLogger(__name__)


@db_task()
def pull_source(source_id: int) -> dict | None:
    """Pull one source in the background; a failure is recorded on the source, not raised."""
    from .models import PullSource
    from .pulls import PullError, pull

    source = PullSource.objects.filter(pk=source_id).first()
    if source is None:
        return None
    try:
        return pull(source)
    except PullError:
        return None  # pull() logged it and stored it in source.last_error (no credential, no values)


@db_periodic_task(crontab(minute="*"))
def pull_due_sources() -> list[int]:
    """Queue a pull for every source whose schedule_minutes have passed since its last pull."""
    from .pulls import due_sources

    due = [source.pk for source in due_sources()]
    for source_id in due:
        pull_source(source_id)
    if due:
        log.info("scheduled pulls queued for sources %s", due)
    return due

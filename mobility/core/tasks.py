"""Background jobs (huey): SQLite queue on a laptop, Redis when REDIS_URL is set."""

import datetime
import logging
import threading

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from .models import ImportJob

log = logging.getLogger(__name__)
_started = threading.Lock()
_recovered_at_start = False


@db_task()
def run_import_job(job_id: int) -> str:
    """Run a queued job; a job that is no longer queued (run meanwhile, or queued twice) is left as it is."""
    from django.core.exceptions import ValidationError

    from .imports import run

    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None or job.status != ImportJob.Status.QUEUED:
        return job.status if job else "missing"
    try:
        run(job)
    except ValidationError:  # claimed by another process between the read and the claim
        log.info("import job %s was not run here: another process has it", job_id)
    return job.status


def _recover(**options) -> None:
    from django.db import close_old_connections

    from .recovery import jobs_recover

    close_old_connections()
    for line in jobs_recover(**options).lines():
        log.warning(line)


@HUEY.on_startup()
def recover_at_start() -> None:
    """The worker starts: fail the jobs a dead worker left running, re-queue lost ones (once per process)."""
    global _recovered_at_start
    with _started:
        if _recovered_at_start:
            return
        _recovered_at_start = True
        _recover()


@db_periodic_task(crontab(minute="*/10"))
def recover_periodically() -> None:
    """Every ten minutes: the same, for a process that died while this worker kept running (recent files)."""
    _recover(files_since=datetime.timedelta(days=1))

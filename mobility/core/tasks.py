"""Background jobs (huey): SQLite queue on a laptop, Redis when REDIS_URL is set."""

from huey.contrib.djhuey import db_task

from .models import ImportJob


@db_task()
def run_import_job(job_id: int) -> str:
    from .imports import run

    job = ImportJob.objects.get(pk=job_id)
    run(job)
    return job.status

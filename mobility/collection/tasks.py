"""Background jobs of the collection app (huey; immediate in tests)."""

from huey.contrib.djhuey import db_task


@db_task()
def process_submission(submission_id: int) -> None:
    from .processing import submission_process_by_id

    submission_process_by_id(submission_id)

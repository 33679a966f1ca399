"""Background jobs of the registration app (huey; immediate when MOBILITY_SYNC_JOBS=1)."""

from huey.contrib.djhuey import db_task


@db_task()
def dedup_incremental_task(operation_id: int, individual_ids: list[int]) -> bool:
    """Match newly registered people against the registry with the saved model (see dedup_app)."""
    from .dedup_app import dedup_incremental_safe

    return dedup_incremental_safe(operation_id, individual_ids)


@db_task()
def dedup_run_task(operation_id: int, retrain: bool = False) -> dict:
    """A full deduplication run of an operation (the CLI runs it in the foreground)."""
    from mobility.core.models import Operation

    from .dedup_app import dedup_run

    return dedup_run(operation=Operation.objects.get(pk=operation_id), retrain=retrain).as_dict()

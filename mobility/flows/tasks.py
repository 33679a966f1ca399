"""Background jobs of the flows app (huey; immediate in tests and when MOBILITY_SYNC_JOBS=1)."""

from huey.contrib.djhuey import db_task


@db_task()
def mirror_refresh_task(operation_id: int, months: list[tuple[int, int]] | None = None) -> dict:
    """Rewrite the analytics mirror's stale months after counts were written (see analytics)."""
    from . import analytics

    return analytics.mirror_refresh(operation_id, None if months is None else {tuple(m) for m in months})

"""A refresh killed half-way leaves a staging folder; the next refresh removes it once it is old."""

import os
import time

import pytest

from mobility.flows import analytics

pytestmark = pytest.mark.django_db


def test_old_staging_folders_of_a_killed_refresh_are_removed(operation, settings, tmp_path):
    folder = analytics.mirror_dir(operation.pk)
    folder.mkdir(parents=True, exist_ok=True)
    old, recent = folder / ".staging-killed", folder / ".staging-running"
    for path in (old, recent):
        path.mkdir()
        (path / "2024-01.part00000.parquet").write_bytes(b"PAR1")
    past = time.time() - analytics.STALE_STAGING_SECONDS - 60
    os.utime(old, (past, past))
    analytics.mirror_refresh(operation.pk)
    assert not old.exists()
    assert recent.exists()  # perhaps another refresh at work: left alone

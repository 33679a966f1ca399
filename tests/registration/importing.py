"""Helpers of the registration import tests: users with grants, files in any encoding, running a job."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from mobility.core.imports import job_create, run
from mobility.core.models import ImportJob
from mobility.registration import access
from mobility.registration.importers.individuals import KIND
from mobility.registration.records import TEMPLATE_COLUMNS


@pytest.fixture(name="registrar")
def registrar_fixture(operation, data_manager, admin_user):
    """A data manager granted register and view in the operation."""
    access.grant_set(operation=operation, user=data_manager, capabilities=["register", "view"], by=admin_user)
    return data_manager


def csv_text(rows: list[dict], columns: list[str] | None = None) -> str:
    columns = columns or TEMPLATE_COLUMNS
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return out.getvalue()


def write_file(path: Path, rows: list[dict], *, encoding: str = "utf-8", columns=None) -> Path:
    path.write_bytes(csv_text(rows, columns).encode(encoding))
    return path


def import_job(path: Path, operation, by, **profile) -> ImportJob:
    job = job_create(
        kind=KIND, source=path, operation=operation, by=by, profile={"operation": operation.pk, **profile}
    )
    return run(job)


def error_texts(job: ImportJob) -> list[str]:
    return [e.text for e in job.row_errors.order_by("row", "id")]

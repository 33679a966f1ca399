"""Fixtures of the restrictions tests: points of entry of the Mozambique operation and file writers."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from mobility.core.imports import job_create, run
from mobility.core.models import ImportJob
from mobility.restrictions.services import poe_upsert

D = dt.date.fromisoformat


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def import_job(kind: str, path: Path, operation, *, by=None, profile=None) -> ImportJob:
    return run(job_create(kind=kind, source=path, operation=operation, by=by, profile=profile or {}))


@pytest.fixture
def ressano(operation):
    poe, _ = poe_upsert(
        operation=operation,
        code="MOZ-RG",
        name="Ressano Garcia",
        type="land_border",
        country_iso3="MOZ",
        border_country_iso3="ZAF",
        admin1_code="MZ05",
        admin2_code="MZ0507",
        latitude=-25.44,
        longitude=31.99,
    )
    return poe


@pytest.fixture
def airport(operation):
    poe, _ = poe_upsert(
        operation=operation,
        code="MOZ-MPM",
        name="Maputo International Airport",
        type="airport",
        country_iso3="MOZ",
        iata_code="MPM",
    )
    return poe

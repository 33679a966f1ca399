"""Operations, rounds and import jobs over the API. Thin: reads via selectors, writes via services."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DataError
from django.shortcuts import get_object_or_404
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from . import imports, selectors, services
from .apitools import READ_AUTH, UNPROCESSABLE_EXTRA, WRITE_AUTH, Problem
from .models import Operation, Round
from .permissions import Action, can

router = Router(tags=["operations"], auth=READ_AUTH)
jobs = Router(tags=["imports"], auth=WRITE_AUTH)

NOT_ALLOWED = "You may not {action} in operation {operation}."


class OperationOut(Schema):
    name: str
    slug: str
    location_code: str = Field(alias="country_iso3")
    status: str
    description: str


class RoundOut(Schema):
    id: int
    operation: str = Field(alias="operation.slug")
    reporting_round: int = Field(alias="number")
    version: int
    name: str
    status: str
    reference_period_start: dt.date = Field(alias="start_date")
    reference_period_end: dt.date = Field(alias="end_date")
    published_at: dt.datetime | None
    corrects: int | None = Field(None, alias="corrects_id")


class RoundIn(Schema):
    reporting_round: int = Field(ge=1)
    reference_period_start: dt.date
    reference_period_end: dt.date
    name: str = ""


class AdvanceIn(Schema):
    to: Round.Status


class CorrectIn(Schema):
    reason: str = Field(min_length=3)


def _require(request, action: Action, operation: Operation) -> None:
    if not can(request.user, action, operation):
        raise PermissionDenied(NOT_ALLOWED.format(action=action.value, operation=operation.slug))


@router.get("/operations", response=list[OperationOut], summary="Operations")
def operation_list(request):
    """Active operations, and any other operation the caller is a member of."""
    return selectors.operation_list(user=request.user)


@router.get("/operations/{slug}", response={200: OperationOut, 404: Problem}, summary="One operation")
def operation_detail(request, slug: str):
    return get_object_or_404(selectors.operation_list(user=request.user), slug=slug)


@router.get(
    "/operations/{slug}/rounds",
    response={200: list[RoundOut], 404: Problem},
    summary="Rounds of an operation",
)
def round_list(request, slug: str):
    """All round versions for members; only published rounds for everyone else."""
    operation = get_object_or_404(selectors.operation_list(user=request.user), slug=slug)
    return selectors.round_list(operation=operation, user=request.user).select_related("operation")


@router.post(
    "/operations/{slug}/rounds",
    response={201: RoundOut, 400: Problem, 403: Problem, 404: Problem},
    auth=WRITE_AUTH,
    summary="Plan a round",
)
def round_create(request, slug: str, payload: RoundIn):
    operation = get_object_or_404(Operation, slug=slug)
    _require(request, Action.PUBLISH, operation)
    round_ = services.round_create(
        operation=operation,
        number=payload.reporting_round,
        start_date=payload.reference_period_start,
        end_date=payload.reference_period_end,
        name=payload.name,
        by=request.user,
    )
    return Status(201, round_)


@router.post(
    "/rounds/{round_id}/advance",
    response={200: RoundOut, 400: Problem, 403: Problem, 404: Problem},
    auth=WRITE_AUTH,
    summary="Move a round to its next state",
)
def round_advance(request, round_id: int, payload: AdvanceIn):
    """planned → collecting → validating (may go back to collecting); publishing is POST /publishing/… or the CLI."""
    round_ = get_object_or_404(Round.objects.select_related("operation"), pk=round_id)
    _require(request, Action.PUBLISH, round_.operation)
    return services.round_advance_request(round=round_, to=payload.to, by=request.user)


@router.post(
    "/rounds/{round_id}/correct",
    response={201: RoundOut, 400: Problem, 403: Problem, 404: Problem},
    auth=WRITE_AUTH,
    summary="Open a correction of a published round",
)
def round_correct(request, round_id: int, payload: CorrectIn):
    round_ = get_object_or_404(Round.objects.select_related("operation"), pk=round_id)
    _require(request, Action.PUBLISH, round_.operation)
    return Status(201, services.round_correct(round=round_, reason=payload.reason, by=request.user))


class RowErrorOut(Schema):
    row: int | None
    column: str
    message: str
    text: str


class JobOut(Schema):
    id: int
    kind: str
    original_name: str
    status: str
    operation: str | None = Field(None, alias="operation.slug")
    rows_read: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    percent: int
    error: str
    summary: dict
    created_at: dt.datetime
    finished_at: dt.datetime | None


class JobDetail(JobOut):
    row_errors: list[RowErrorOut] = Field(alias="row_errors_page")


@jobs.get("/imports", response=list[JobOut], summary="Import jobs")
def job_list(request, limit: int = Query(50, ge=1, le=500)):
    """The caller's import jobs and those of operations they can see, newest first."""
    return selectors.import_job_list(user=request.user)[:limit]


@jobs.get(
    "/imports/{job_id}", response={200: JobDetail, 404: Problem}, summary="One import job with its row errors"
)
def job_detail(request, job_id: int):
    job = get_object_or_404(selectors.import_job_list(user=request.user), pk=job_id)
    # Row errors quote cell values, which may be personal: as on the job page, only those who may
    # import into the operation read them; others get the counts.
    may_see_rows = can(request.user, Action.IMPORT, job.operation)
    job.row_errors_page = list(job.row_errors.all()[:1000]) if may_see_rows else []
    return job


@jobs.post(
    "/imports",
    response={202: JobOut, 400: Problem, 403: Problem, 404: Problem},
    summary="Upload a file to import",
    openapi_extra=UNPROCESSABLE_EXTRA,
)
def job_upload(
    request,
    file: File[UploadedFile],
    kind: Annotated[str, Form(..., min_length=1)],  # empty is "missing" to the form parser: the spec says so
    operation: Form[str] = "",
    country: Annotated[str, Form(max_length=3)] = "",
    edition: Annotated[str, Form(max_length=100)] = "",
    valid_from: Form[dt.date | None] = None,
    round: Annotated[int | None, Form(ge=1, le=10_000)] = None,
    source_profile: Annotated[str, Form(max_length=100, pattern=r"^[-a-zA-Z0-9_]*$")] = "",
):
    """Keep the file and queue its import; poll GET /imports/{id} for progress and row errors.

    `round`: for tracking data, the number of the round the file reports; `valid_from`: for a
    gazetteer, the date its edition starts to apply; `source_profile`: the name of a saved source
    profile to read the file through (e.g. somalia-fmp-2016). As on the imports page.
    """
    op = get_object_or_404(Operation, slug=operation) if operation else None
    if not can(request.user, Action.IMPORT, op):
        raise PermissionDenied(NOT_ALLOWED.format(action="import", operation=operation or "(gazetteer)"))
    profile = imports.upload_profile(
        country=country, edition=edition, valid_from=valid_from, round=round, source_profile=source_profile
    )
    job = imports.job_create(kind=kind, source=file, profile=profile, operation=op, by=request.user)
    imports.submit(job)
    job.refresh_from_db()
    return Status(202, job)


def invalid_request_handler(request, exc, api):
    """ninja's 422, except when the upload handlers refused the file (too large, or its content is not
    what its name says): the body was not read, so every field looks missing; answer why instead."""
    refused = getattr(request, "upload_refused", None)
    if refused:
        return api.create_response(request, {"detail": str(refused)}, status=400)
    return api.create_response(request, {"detail": exc.errors}, status=422)


def validation_error_handler(request, exc: ValidationError, api):
    return api.create_response(request, {"detail": "; ".join(exc.messages)}, status=400)


# PostgreSQL cannot search text holding a NUL character, nor numbers past its column types; SQLite
# can. Either way the value came from the caller: a 400 on both databases, never a 500.
VALUE_NOT_SEARCHABLE = "A value in the request cannot be searched (a NUL character, or a number too large)."


def data_error_handler(request, exc: DataError, api):
    return api.create_response(request, {"detail": VALUE_NOT_SEARCHABLE}, status=400)


def permission_denied_handler(request, exc: PermissionDenied, api):
    return api.create_response(request, {"detail": str(exc) or "Not allowed."}, status=403)

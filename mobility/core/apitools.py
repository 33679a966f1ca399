"""Shared API pieces: authentication (token, session, anonymous), HAPI-style paging and CSV output."""

from __future__ import annotations

import csv
import io
from enum import StrEnum

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, NinjaAPI, Schema
from ninja.security import APIKeyHeader, HttpBearer, SessionAuth

from .models import ApiToken
from .tables import neutralise

MAX_LIMIT = 10_000
MAX_OFFSET = 1_000_000_000


class TokenAuth(HttpBearer):
    """`Authorization: Bearer mob_...` — tokens are stored hashed and can be revoked."""

    def authenticate(self, request: HttpRequest, token: str):
        row = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=ApiToken.hash_key(token), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if row is None:
            return None
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
        request.user = row.user
        return row.user


class AnonymousAccess(APIKeyHeader):
    """Lets a request through as anonymous; handlers then show only what is public."""

    param_name = "X-Anonymous"  # never sent; the check below always passes

    def __call__(self, request: HttpRequest):
        if not getattr(request, "user", None):
            request.user = AnonymousUser()
        return request.user if request.user.is_authenticated else AnonymousUser()

    def authenticate(self, request, key):  # pragma: no cover - __call__ handles it
        return AnonymousUser()


token_auth = TokenAuth()
session_auth = SessionAuth()
READ_AUTH = [token_auth, session_auth, AnonymousAccess()]
WRITE_AUTH = [token_auth, session_auth]


class OutputFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


class PageParams(Schema):
    output_format: OutputFormat = Field(OutputFormat.JSON, description="json (default) or csv")
    # Bounded: a database's OFFSET is a 64-bit integer, and no table here holds a billion rows.
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Rows to skip")
    limit: int = Field(1000, ge=1, le=MAX_LIMIT, description=f"Rows to return (at most {MAX_LIMIT:,})")


class Problem(Schema):
    """What a refusal or a missing object answers: ``{"detail": "..."}``."""

    detail: str


PROBLEM_SCHEMA = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
PROBLEM_CONTENT = {"application/json": {"schema": PROBLEM_SCHEMA}}
# For an endpoint without a response schema whose filter names an object that may not exist.
NOT_FOUND_EXTRA = {"responses": {404: {"description": "Not Found", "content": PROBLEM_CONTENT}}}


# For an endpoint that answers 422 on purpose: a combination of values the spec cannot express,
# or a multipart upload the form parser cannot read (e.g. a file part without a file name).
UNPROCESSABLE_EXTRA = {
    "responses": {
        422: {
            "description": "Unprocessable",
            "content": {
                "application/json": {
                    "schema": {"type": "object", "properties": {"detail": {}}, "required": ["detail"]}
                }
            },
        }
    }
}


class MobilityAPI(NinjaAPI):
    """A NinjaAPI whose spec also documents the answers the shared pieces give on every endpoint.

    An endpoint taking ``output_format`` (``PageParams``) may answer text/csv (``hapi_page``); one
    that does not accept anonymous callers answers 401 to them (ninja's authentication); one that
    reads any value from the caller answers 400 to a value the database cannot search (the
    ``DataError`` handler in ``mobility.api``).
    """

    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        for methods in schema.get("paths", {}).values():
            for operation in methods.values():
                responses = operation.setdefault("responses", {})
                if any(p.get("name") == "output_format" for p in operation.get("parameters", [])):
                    content = responses.setdefault(200, {"description": "OK"}).setdefault("content", {})
                    content.setdefault("application/json", {"schema": {}})
                    content["text/csv"] = {"schema": {"type": "string"}}
                if operation.get("parameters") or operation.get("requestBody"):
                    responses.setdefault(400, {"description": "Bad Request", "content": PROBLEM_CONTENT})
                security = operation.get("security")
                if security and not any(AnonymousAccess.__name__ in s for s in security):
                    responses.setdefault(401, {"description": "Unauthorized", "content": PROBLEM_CONTENT})
        return schema


def hapi_page(rows, page: PageParams, *, fields: list[str], filename: str):
    """Slice rows and answer `{"data": [...]}` or a CSV download with the same columns."""
    sliced = list(rows[page.offset : page.offset + page.limit])
    if page.output_format == OutputFormat.CSV:
        buffer = io.StringIO()
        # CRLF (RFC 4180): a lone CR in a value is then quoted too, and cannot start a row of its own.
        writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore", lineterminator="\r\n")
        writer.writeheader()
        for row in sliced:
            writer.writerow({k: _csv_value(row.get(k)) for k in fields})
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        return response
    return {"data": sliced}


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    return neutralise(value)  # names come from imported files: no formula may run in the reader's sheet

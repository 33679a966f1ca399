"""Shared API pieces: authentication (token, session, anonymous), HAPI-style paging and CSV output."""

from __future__ import annotations

import csv
import io
from enum import StrEnum

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Schema
from ninja.security import APIKeyHeader, HttpBearer, SessionAuth

from .models import ApiToken

MAX_LIMIT = 10_000


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
    offset: int = Field(0, ge=0, description="Rows to skip")
    limit: int = Field(1000, ge=1, le=MAX_LIMIT, description=f"Rows to return (at most {MAX_LIMIT:,})")


def hapi_page(rows, page: PageParams, *, fields: list[str], filename: str):
    """Slice rows and answer `{"data": [...]}` or a CSV download with the same columns."""
    sliced = list(rows[page.offset : page.offset + page.limit])
    if page.output_format == OutputFormat.CSV:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
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
    return value

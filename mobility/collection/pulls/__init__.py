"""Pulls from the servers teams already use: KoboToolbox (v2 REST API) and ODK Central (pyodk).

Every pulled record goes through ``services.submission_receive`` — the same exactly-once door as
phones — so a record pulled twice (a cursor reset, two overlapping pulls) is stored once and counted
as a duplicate. Each record is its own transaction and the cursor is saved after each one, so a pull
that fails midway keeps what it stored and the next pull resumes where it stopped.

Incremental rules (see docs/collection.md):
- Kobo: new records by ``_id`` (a unique, increasing integer: no ties at a page boundary), the cursor
  is ``"<newest _submission_time>#<its _id>"``. A Kobo edit keeps ``_id`` and ``_submission_time``
  and only changes ``meta/instanceID``, so edits of records already pulled are found by a light
  query (``meta/deprecatedID`` exists, fields ``_id`` + ``meta/instanceID`` only) and the records
  whose current instanceID is not stored here are fetched one by one.
- Central: OData ``$filter`` on ``__system/submissionDate`` or ``__system/updatedAt`` (an edit moves
  updatedAt, not submissionDate); the cursor is the newest of the two already stored, and it moves
  past a timestamp only once every row carrying it is stored.

Errors name the source, the host and the HTTP status — never the credential, never a value of a
submission (instanceIDs are random uuids, not personal data).

The package: ``common`` (sources, the run, its lock and cursor, ``pull()``), ``kobo`` and ``central``
(one per server kind).
"""

from .common import (
    COUNTS,
    PULL_BAD_SHAPE,
    PULL_BAD_XFORM,
    PULL_BUSY,
    PULL_FAILED,
    PULL_HTTP,
    PULL_NO_XFORM,
    PULL_NOT_JSON,
    PULL_REFUSED,
    PULL_SUBMISSION_REFUSED,
    PULL_UNREACHABLE,
    SOURCE_BAD_URL,
    SOURCE_EXISTS,
    SOURCE_FORM_ELSEWHERE,
    SOURCE_NEEDS_CREDENTIAL,
    SOURCE_NEEDS_PROJECT,
    PullError,
    due_sources,
    pull,
    pull_source_create,
    pull_source_update,
)

# Read by kobo.py / central.py from the package at call time, so setting them here changes every pull.
KOBO_PAGE_SIZE = 1000  # Kobo allows up to 30,000 per page
CENTRAL_PAGE_SIZE = 1000

__all__ = [
    "CENTRAL_PAGE_SIZE",
    "COUNTS",
    "KOBO_PAGE_SIZE",
    "PULL_BAD_SHAPE",
    "PULL_BAD_XFORM",
    "PULL_BUSY",
    "PULL_FAILED",
    "PULL_HTTP",
    "PULL_NOT_JSON",
    "PULL_NO_XFORM",
    "PULL_REFUSED",
    "PULL_SUBMISSION_REFUSED",
    "PULL_UNREACHABLE",
    "SOURCE_BAD_URL",
    "SOURCE_EXISTS",
    "SOURCE_FORM_ELSEWHERE",
    "SOURCE_NEEDS_CREDENTIAL",
    "SOURCE_NEEDS_PROJECT",
    "PullError",
    "due_sources",
    "pull",
    "pull_source_create",
    "pull_source_update",
]

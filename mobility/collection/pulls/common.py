"""What every pull shares: registering sources, one run (its lock, counts, cursor and the door to
``submission_receive``), the ``pull()`` dispatcher to the Kobo or Central puller, and the schedule.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from mobility.core.imports import NullProgress
from mobility.core.models import Operation
from mobility.core.services import audit_record

from ..models import Form, PullSource, Submission
from ..services import SubmissionRefused, Upload, form_version_from_xml, submission_receive

log = logging.getLogger(__name__)

HTTP_TIMEOUT = 60  # seconds per request
CURSOR_EVERY = 100  # records between two saves of the cursor during a run
LEASE = dt.timedelta(hours=1)  # a pull older than this is taken to have died

SOURCE_EXISTS = 'A pull source named "{name}" exists already'
SOURCE_NEEDS_PROJECT = "An ODK Central source needs the numeric project id (--project)"
SOURCE_NEEDS_CREDENTIAL = "A pull source needs a credential (Kobo: API token; Central: email:password)"
SOURCE_BAD_URL = "The server URL must start with https:// or http://, not {url!r}"
SOURCE_FORM_ELSEWHERE = 'The local form "{form_id}" belongs to another operation'
PULL_BUSY = 'Pull "{source}" is already running (started {since}); try again when it has finished'
PULL_UNREACHABLE = 'Pull "{source}": could not reach {host} ({error})'
PULL_REFUSED = (
    'Pull "{source}": {host} refused the credential (HTTP {status}) when asked for {what}; check {hint}'
)
PULL_HTTP = 'Pull "{source}": {host} answered HTTP {status} when asked for {what}'
PULL_NOT_JSON = 'Pull "{source}": the answer of {host} for {what} is not valid JSON'
PULL_BAD_SHAPE = 'Pull "{source}": {host} sent {what} in an unexpected shape ({detail})'
PULL_NO_XFORM = 'Pull "{source}": {host} offers no deployed XForm for "{form}"; deploy the form there first'
PULL_BAD_XFORM = 'Pull "{source}": the XForm of "{form}" from {host} could not be stored: {detail}'
PULL_SUBMISSION_REFUSED = 'Pull "{source}": submission {instance_id} was refused: {reason}'
PULL_FAILED = 'Pull "{source}" stopped on an unexpected error ({error}); what was stored is kept'


COUNTS = ("fetched", "created", "edit", "duplicate", "conflict", "attachments")


class PullError(Exception):
    """A pull that could not finish; the message names the source and is safe to show and log."""


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else url


# ---------------------------------------------------------------- sources


def _validate(source: PullSource) -> None:
    if not re.match(r"^https?://", source.url or ""):
        raise ValidationError(SOURCE_BAD_URL.format(url=source.url))
    if not source.credential.strip():
        raise ValidationError(SOURCE_NEEDS_CREDENTIAL)
    if source.kind == PullSource.Kind.CENTRAL and not str(source.remote_project).strip().isdigit():
        raise ValidationError(SOURCE_NEEDS_PROJECT)
    if source.form_id and source.form.operation_id != source.operation_id:
        raise ValidationError(SOURCE_FORM_ELSEWHERE.format(form_id=source.form.xml_form_id))
    source.full_clean()


def _save(source: PullSource, *, action: str, by, detail: dict) -> None:
    """Validate, save and audit a source (the detail names fields, never the credential)."""
    _validate(source)
    source.save()
    audit_record(action=action, obj=source, by=by, operation=source.operation, detail=detail)


@transaction.atomic
def pull_source_create(
    *,
    name: str,
    operation: Operation,
    kind: str,
    url: str,
    credential: str,
    remote_form: str,
    remote_project: str = "",
    form: Form | None = None,
    schedule_minutes: int = 0,
    by=None,
) -> PullSource:
    """Register a Kobo asset or a Central form to pull into a local form of ``operation``."""
    if PullSource.objects.filter(name=name).exists():
        raise ValidationError(SOURCE_EXISTS.format(name=name))
    source = PullSource(
        name=name,
        operation=operation,
        kind=kind,
        url=url.strip().rstrip("/"),
        credential=credential.strip(),
        remote_form=remote_form.strip(),
        remote_project=str(remote_project or "").strip(),
        form=form,
        schedule_minutes=schedule_minutes,
    )
    _save(
        source,
        action="collection.pull_source_create",
        by=by,
        detail={"name": source.name, "kind": source.kind, "host": host_of(source.url)},
    )
    return source


@transaction.atomic
def pull_source_update(
    *,
    source: PullSource,
    url: str | None = None,
    credential: str | None = None,
    remote_form: str | None = None,
    remote_project: str | None = None,
    form: Form | None = None,
    schedule_minutes: int | None = None,
    reset_cursor: bool = False,
    by=None,
) -> PullSource:
    """Change a source; ``reset_cursor`` makes the next pull start from the first record again."""
    changed = []
    for name, value in (
        ("url", url.strip().rstrip("/") if url is not None else None),
        ("credential", credential.strip() if credential is not None else None),
        ("remote_form", remote_form.strip() if remote_form is not None else None),
        ("remote_project", str(remote_project).strip() if remote_project is not None else None),
        ("form", form),
        ("schedule_minutes", schedule_minutes),
    ):
        if value is not None and getattr(source, name) != value:
            setattr(source, name, value)
            changed.append(name)
    if reset_cursor and source.cursor:
        source.cursor = ""
        changed.append("cursor")
    if not changed:
        return source
    _save(
        source,
        action="collection.pull_source_update",
        by=by,
        detail={"name": source.name, "changed": changed},  # field names only: never the credential
    )
    return source


# ---------------------------------------------------------------- one run


@dataclass
class Run:
    source: PullSource
    progress: object
    counts: dict = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    versions: dict = field(default_factory=dict)  # remote version → local version string
    version_refreshed: bool = False
    unsaved: int = 0  # cursor moves not yet written

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def host(self) -> str:
        return host_of(self.source.url)

    @property
    def form(self) -> Form:
        return self.source.form

    def advance(self, cursor: str) -> None:
        """Move the cursor past what is stored.

        Saved every CURSOR_EVERY records and when the run ends, however it ends; after a crash the
        few records since the last save are pulled again and counted as duplicates.
        """
        if cursor and cursor != self.source.cursor:
            self.source.cursor = cursor[:64]
            self.unsaved += 1
            if self.unsaved >= CURSOR_EVERY:
                PullSource.objects.filter(pk=self.source.pk).update(cursor=self.source.cursor)
                self.unsaved = 0

    def error(self, message: str, *, host: str | None = None, **values) -> PullError:
        """A PullError from one of the PULL_ messages, naming the source and the host (the source's
        unless the request went to another)."""
        return PullError(message.format(source=self.name, host=host or self.host, **values))

    def http_error(self, what: str, status: int, *, hint: str, host: str | None = None) -> PullError:
        """The server answered ``status`` when asked for ``what``; a refused credential says what to check."""
        if status in (401, 403):
            return self.error(PULL_REFUSED, host=host, status=status, what=what, hint=hint)
        return self.error(PULL_HTTP, host=host, status=status, what=what)

    def json_of(self, response, *, what: str, host: str | None = None):
        """The JSON of a response, else a PullError saying that ``what`` is not JSON."""
        try:
            return response.json()
        except ValueError:
            raise self.error(PULL_NOT_JSON, host=host, what=what) from None

    def stored(self, instance_id: str) -> Submission | None:
        return Submission.objects.filter(form=self.form, instance_id=instance_id).first()

    def has_files(self, instance_id: str, names: set[str]) -> bool:
        """The instance is stored with all these attachments: nothing to download again."""
        local = self.stored(instance_id) if instance_id else None
        return local is not None and names <= set(local.attachments.values_list("name", flat=True))

    def chain_link(self, instance_id: str, deprecated_id: str, root: str) -> str:
        """The stored instance an edit replaces.

        The server names the version it edited; when several edits happened between two pulls
        that version was never stored here, so the edit replaces the newest stored version of the
        same record (same root), lest the record be counted twice.
        """
        if not deprecated_id or self.stored(deprecated_id) is not None or not root:
            return deprecated_id
        head = (
            Submission.objects.filter(form=self.form, superseded_by__isnull=True)
            .filter(Q(root_id=root) | Q(instance_id=root))
            .exclude(instance_id=instance_id)
            .order_by("-id")
            .first()
        )
        return head.instance_id if head is not None else deprecated_id

    def store(
        self,
        *,
        raw: bytes,
        raw_format: str,
        data: dict,
        meta: dict,
        origin: str,
        submitted_at: dt.datetime | None,
        enumerator: str,
        uploads: list[Upload],
    ) -> None:
        try:
            received = submission_receive(
                operation=self.source.operation,
                raw=raw,
                raw_format=raw_format,
                data=data,
                instance_meta=meta,
                origin=origin,
                pull_source=self.source,
                submitted_at=submitted_at,
                enumerator=enumerator or "",
                attachments=uploads,
            )
        except SubmissionRefused as exc:
            raise self.error(PULL_SUBMISSION_REFUSED, instance_id=meta["instance_id"], reason=exc) from None
        self.counts[received.outcome.value] += 1
        self.counts["attachments"] += received.attachments_added

    def store_form_xml(self, xml: str, form_label: str) -> Form:
        from defusedxml.common import DefusedXmlException

        try:
            version = form_version_from_xml(operation=self.source.operation, xml=xml)
        except (ValidationError, DefusedXmlException, SyntaxError, ValueError) as exc:
            detail = "; ".join(exc.messages) if isinstance(exc, ValidationError) else type(exc).__name__
            raise self.error(PULL_BAD_XFORM, form=form_label, detail=detail) from None
        return version.form

    def link_form(self, form: Form) -> None:
        self.source.form = form
        PullSource.objects.filter(pk=self.source.pk).update(form=form)

    def known(self, instance_ids: list[str]) -> set[str]:
        """Which of these instanceIDs are stored in the run's form already."""
        known: set[str] = set()
        for i in range(0, len(instance_ids), 500):
            known |= set(
                Submission.objects.filter(
                    form=self.form, instance_id__in=instance_ids[i : i + 500]
                ).values_list("instance_id", flat=True)
            )
        return known


def parse_when(text) -> dt.datetime | None:
    """An ISO time as the servers send it (a trailing Z, or no offset: UTC); None if it is not one."""
    if not text or not isinstance(text, str):
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _claim(source: PullSource) -> None:
    """Take the source for this run (compare-and-set), so a scheduled pull never overlaps another."""
    now = timezone.now()
    fresh = PullSource.objects.get(pk=source.pk)
    since = parse_when((fresh.last_counts or {}).get("running_since"))
    if since is not None and now - since < LEASE:
        raise PullError(PULL_BUSY.format(source=source.name, since=since.isoformat(timespec="seconds")))
    taken = PullSource.objects.filter(pk=source.pk, updated_at=fresh.updated_at).update(
        last_counts={**(fresh.last_counts or {}), "running_since": now.isoformat()}, updated_at=now
    )
    if not taken:
        raise PullError(PULL_BUSY.format(source=source.name, since=now.isoformat(timespec="seconds")))
    for name in ("cursor", "form_id", "credential", "url", "remote_form", "remote_project"):
        setattr(source, name, getattr(fresh, name))


def _finish(source: PullSource, counts: dict, error: str) -> None:
    source.last_pulled_at = timezone.now()
    source.last_error = error
    source.last_counts = counts
    source.save(update_fields=["cursor", "last_pulled_at", "last_error", "last_counts", "updated_at"])


def pull(source: PullSource, progress=None) -> dict:
    """Pull new and edited submissions of one source; returns the counts of this run.

    Raises PullError (after recording it in ``source.last_error``) when the run cannot finish.
    """
    from .central import pull_central
    from .kobo import pull_kobo

    progress = progress or NullProgress()
    _claim(source)
    run = Run(source=source, progress=progress)
    try:
        if source.kind == PullSource.Kind.KOBO:
            pull_kobo(run)
        else:
            pull_central(run)
    except PullError as exc:
        log.warning("pull source %s stopped: %s (counts %s)", source.pk, exc, run.counts)
        _finish(source, run.counts, str(exc))
        raise
    except Exception as exc:
        message = PULL_FAILED.format(source=source.name, error=type(exc).__name__)
        log.exception("pull source %s failed (counts %s)", source.pk, run.counts)
        _finish(source, run.counts, message)
        raise PullError(message) from exc
    finally:
        progress.finish()
    _finish(source, run.counts, "")
    log.info("pull source %s done: %s", source.pk, run.counts)
    return run.counts


# ---------------------------------------------------------------- schedule


def due_sources(now: dt.datetime | None = None) -> list[PullSource]:
    """Scheduled sources whose interval has passed since their last pull (or never pulled)."""
    now = now or timezone.now()
    return [
        source
        for source in PullSource.objects.filter(schedule_minutes__gt=0).select_related("operation")
        if source.last_pulled_at is None
        or source.last_pulled_at + dt.timedelta(minutes=source.schedule_minutes) <= now
    ]

"""Writes of the collection app: publish a form version, attach media, receive a submission.

``submission_receive`` is the one door for every submission — ODK Collect / Enketo posts, Kobo and
Central pulls — and enforces exactly-once with the database constraint on (form, instance_id):
it inserts first and looks only when the insert collides, so two racing re-sends store one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from enum import StrEnum

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from mobility.core.models import Operation
from mobility.core.services import audit_record

from .models import Attachment, Binding, Form, FormVersion, MediaFile, Submission, SubmissionConflict
from .xforms import (
    MAX_DEPTH,
    MAX_ID_CHARS,
    FormError,
    InstanceError,
    content_sha256,
    instance_parse,
    repeat_paths,
    xlsform_convert,
)

log = logging.getLogger(__name__)

VERSION_EXISTS = (
    'Form "{form_id}" already has a version "{version}" with different content; '
    "change the version in the settings sheet and upload again"
)
FORM_UNKNOWN = 'No form "{form_id}" in this operation'
FORM_CLOSED = 'The form "{form_id}" is closed and accepts no submissions'
MEDIA_NAME = "A media file name must be a plain file name, not {name!r}"
FORM_XML_TOO_DEEP = "The form XML nests its instance deeper than {limit} levels"
FORM_XML_ID_TOO_LONG = "The form XML's id or version is longer than {limit} characters"


class SubmissionRefused(Exception):
    """A submission that cannot be accepted. ``status`` is the HTTP status for the client."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class Outcome(StrEnum):
    CREATED = "created"  # a new instance was stored
    DUPLICATE = "duplicate"  # the same body again: nothing new stored (attachments may be added)
    CONFLICT = "conflict"  # a different body under a stored instanceID: kept for review
    EDIT = "edit"  # stored, and it replaces the instance named in meta/deprecatedID


@dataclass
class Received:
    submission: Submission
    outcome: Outcome
    attachments_added: int = 0


@dataclass
class Upload:
    """An attachment as received (name, bytes, content type)."""

    name: str
    content: bytes
    content_type: str = ""


# ---------------------------------------------------------------- forms


@transaction.atomic
def form_publish(*, operation: Operation, data: bytes, filename: str, by=None) -> FormVersion:
    """Convert an XLSForm and store it as a version of its form (created on first upload).

    The same workbook again returns the stored version; a changed workbook under a version string
    already stored is refused (phones identify a form by id + version).
    """
    try:
        converted = xlsform_convert(data, filename)
    except FormError as exc:
        raise ValidationError(str(exc)) from None
    sha = hashlib.sha256(data).hexdigest()
    form, created = Form.objects.select_for_update().get_or_create(
        operation=operation,
        xml_form_id=converted.xml_form_id,
        defaults={"title": converted.title},
    )
    if not created:
        same = form.versions.filter(version=converted.version).first()
        if same is not None and same.xml_md5 == converted.xml_md5:
            return same  # the same form again (a workbook re-saved unchanged)
        current = form.current_version
        if (
            converted.version_generated
            and current is not None
            and current.xml
            == converted.xml.replace(f'version="{converted.version}"', f'version="{current.version}"')
        ):
            return current  # no version in the settings sheet and nothing changed: no new version
        if same is not None:
            raise ValidationError(VERSION_EXISTS.format(form_id=form.xml_form_id, version=converted.version))
    form.title = converted.title
    version = FormVersion(
        form=form,
        version=converted.version,
        xlsform_sha256=sha,
        xml=converted.xml,
        xml_md5=converted.xml_md5,
        default_language=converted.default_language,
        languages=converted.languages,
        fields=converted.fields,
        choices=converted.choices,
        warnings=converted.warnings,
        created_by=by if getattr(by, "pk", None) else None,
    )
    version.xlsform.save(f"{sha[:16]}-{filename.rsplit('/', 1)[-1]}", ContentFile(data), save=False)
    version.full_clean()
    version.save()
    form.current_version = version
    form.full_clean()
    form.save()
    audit_record(
        action="collection.form_publish",
        obj=form,
        by=by,
        operation=operation,
        detail={"version": version.version, "xml_form_id": form.xml_form_id},
    )
    return version


@transaction.atomic
def form_version_from_xml(*, operation: Operation, xml: str, by=None) -> FormVersion:
    """Store a form known only by its XForm XML (pulled from Kobo or Central)."""
    from defusedxml import ElementTree as SafeET

    root = SafeET.fromstring(xml.encode(), forbid_dtd=True)
    instance = next((e for e in root.iter() if e.tag.endswith("}instance") or e.tag == "instance"), None)
    data = list(instance)[0] if instance is not None and len(instance) else None
    if data is None or not data.get("id"):
        raise ValidationError("The form XML has no primary instance with an id")
    form_id, version_string = data.get("id"), data.get("version") or ""
    if len(form_id) > MAX_ID_CHARS or len(version_string) > MAX_ID_CHARS:
        raise ValidationError(FORM_XML_ID_TOO_LONG.format(limit=MAX_ID_CHARS))
    title = next((e.text for e in root.iter() if e.tag.endswith("}title")), None) or form_id
    form, _ = Form.objects.get_or_create(
        operation=operation, xml_form_id=form_id, defaults={"title": title[:255]}
    )
    md5 = hashlib.md5(xml.encode(), usedforsecurity=False).hexdigest()
    version = form.versions.filter(version=version_string).first()
    if version is None:
        version = FormVersion(
            form=form, version=version_string, xml=xml, xml_md5=md5, fields=_xml_fields(data)
        )
        version.full_clean()
        version.save()
        if form.current_version_id is None:  # an older version fetched later never becomes current
            form.current_version = version
            form.save()
    return version


def _xml_fields(data_element) -> list[dict]:
    fields: list[dict] = []

    def walk(element, prefix, depth=2):
        if depth > MAX_DEPTH:  # as instance_parse: deeper submissions could not be received anyway
            raise ValidationError(FORM_XML_TOO_DEEP.format(limit=MAX_DEPTH))
        for child in element:
            name = child.tag.rsplit("}", 1)[-1]
            if len(child):
                walk(child, f"{prefix}{name}/", depth + 1)
            else:
                fields.append(
                    {
                        "path": f"{prefix}{name}",
                        "name": name,
                        "type": "",
                        "labels": {},
                        "list": "",
                        "personal": False,
                        "repeat": "",
                    }
                )

    walk(data_element, "")
    return fields


@transaction.atomic
def form_state_set(*, form: Form, state: str, by=None) -> Form:
    form.state = state
    form.full_clean()
    form.save(update_fields=["state", "updated_at"])
    audit_record(
        action="collection.form_state", obj=form, by=by, operation=form.operation, detail={"state": state}
    )
    return form


@transaction.atomic
def media_attach(
    *, version: FormVersion, name: str, data: bytes, content_type: str = "", by=None
) -> MediaFile:
    """Attach (or replace) a media file of a form version."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValidationError(MEDIA_NAME.format(name=name))
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    media = MediaFile.objects.filter(version=version, name=name).first() or MediaFile(
        version=version, name=name
    )
    if media.pk and media.md5 == md5:
        return media
    media.md5, media.size_bytes, media.content_type = md5, len(data), content_type[:100]
    media.file.save(f"{md5[:16]}-{name}", ContentFile(data), save=False)
    media.full_clean()
    media.save()
    audit_record(
        action="collection.media_attach",
        obj=version.form,
        by=by,
        operation=version.form.operation,
        detail={"version": version.version, "media": name},
    )
    return media


# ---------------------------------------------------------------- submissions


def _when(text: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else timezone.make_aware(value, dt.UTC)


_VERSIONS: dict[tuple, FormVersion] = {}  # versions don't change once stored: read each one once


def _version(form: Form, version_string: str) -> FormVersion | None:
    """The stored version a submission names, without its XForm XML (one small query)."""
    key = form.versions.filter(version=version_string).values_list("pk", "created_at").first()
    if key is None:
        return None
    version = _VERSIONS.get(key)
    if version is None:
        if len(_VERSIONS) > 256:
            _VERSIONS.clear()
        version = _VERSIONS[key] = FormVersion.objects.defer("xml").get(pk=key[0])
    return version


def _gps(data: dict, version: FormVersion | None) -> tuple[float | None, float | None]:
    """The first geopoint answer: "lat lon alt accuracy"."""
    paths = [f["path"] for f in (version.fields if version else []) if f.get("type") == "geopoint"]
    for path in paths or [k for k in data if k.split("/")[-1].lower() in ("gps", "geopoint", "location")]:
        value = data.get(path)
        if isinstance(value, str) and value.strip():
            parts = value.split()
            try:
                lat, lon = float(parts[0]), float(parts[1])
            except (ValueError, IndexError):
                continue
            if -90 <= lat <= 90 and -180 <= lon <= 180:
                return lat, lon
    return None, None


def _first(data: dict, version: FormVersion | None, kind: str) -> str:
    for f in version.fields if version else []:
        if f.get("type") == kind and data.get(f["path"]):
            return str(data[f["path"]])
    return ""


AREA_NAMES = ("admin3", "admin2", "admin1", "admin3_pcode", "admin2_pcode", "admin1_pcode")


def _area(data: dict) -> str:
    """The deepest admin p-code the form states (questions named admin1/admin2/admin3)."""
    by_name = {k.rsplit("/", 1)[-1].lower(): v for k, v in data.items() if isinstance(v, str)}
    for name in AREA_NAMES:
        if by_name.get(name):
            return by_name[name][:32]
    return ""


def _attach(submission: Submission, uploads: list[Upload]) -> int:
    """Store attachments not stored yet (Collect splits large sets over several POSTs)."""
    if not uploads:
        return 0
    have = set(submission.attachments.values_list("name", flat=True))
    added = 0
    for upload in uploads:
        if upload.name in have:
            continue
        sha = hashlib.sha256(upload.content).hexdigest()
        attachment = Attachment(
            submission=submission,
            name=upload.name[:255],
            sha256=sha,
            size_bytes=len(upload.content),
            content_type=upload.content_type[:100],
        )
        attachment.file.save(
            f"{sha[:16]}-{upload.name.rsplit('/', 1)[-1]}", ContentFile(upload.content), save=False
        )
        attachment.save()
        have.add(upload.name)
        added += 1
    return added


def submission_receive(
    *,
    operation: Operation,
    raw: bytes,
    attachments: list[Upload] | None = None,
    by=None,
    incomplete: bool = False,
    origin: str = Submission.Origin.DIRECT,
    pull_source=None,
    submitted_at: dt.datetime | None = None,
    data: dict | None = None,
    instance_meta: dict | None = None,
    raw_format: str = "xml",
    enumerator: str = "",
) -> Received:
    """Store one submission exactly once. Raises SubmissionRefused for what cannot be accepted.

    Direct submissions pass the raw XML; pulls from Kobo pass ``data`` (already flat) with
    ``instance_meta`` = {"xml_form_id", "version", "instance_id", "deprecated_id"} and the raw JSON.
    """
    attachments = attachments or []
    if data is None:
        try:
            instance = instance_parse(raw)
        except InstanceError as exc:
            raise SubmissionRefused(str(exc)) from None
        meta = {
            "xml_form_id": instance.xml_form_id,
            "version": instance.version,
            "instance_id": instance.instance_id,
            "deprecated_id": instance.deprecated_id,
        }
        values = instance.data
    else:
        meta, values = instance_meta or {}, data
        if not meta.get("instance_id"):
            raise SubmissionRefused("the submission has no meta/instanceID")
    form = (
        Form.objects.filter(operation=operation, xml_form_id=meta["xml_form_id"])
        .annotate(bound=Exists(Binding.objects.filter(form=OuterRef("pk"), active=True)))
        .first()
    )
    if form is None:
        raise SubmissionRefused(FORM_UNKNOWN.format(form_id=meta["xml_form_id"]), status=404)
    if form.state == Form.State.CLOSED:
        raise SubmissionRefused(FORM_CLOSED.format(form_id=form.xml_form_id), status=403)
    version = _version(form, meta.get("version") or "")
    if version is not None and data is None and repeat_paths(version.fields):
        values = instance_parse(raw, repeat_paths(version.fields)).data  # repeats with one entry stay lists
    sha = hashlib.sha256(raw).hexdigest()
    now = timezone.now()
    lat, lon = _gps(values, version)
    submission = Submission(
        form=form,
        form_version=version,
        version_string=(meta.get("version") or "")[:255],
        instance_id=meta["instance_id"][:255],
        deprecated_id=(meta.get("deprecated_id") or "")[:255],
        root_id=meta["instance_id"][:255],
        origin=origin,
        pull_source=pull_source,
        raw=raw,
        raw_format=raw_format,
        raw_sha256=sha,
        data=values,
        content_sha256=content_sha256(values),
        submitted_by=by if getattr(by, "pk", None) else None,
        enumerator=(enumerator or getattr(by, "username", "") or "")[:150],
        device_id=str(values.get("deviceid") or values.get("meta/deviceID") or "")[:255],
        submitted_at=submitted_at or now,
        started_at=_when(_first(values, version, "start") or str(values.get("start") or "")),
        ended_at=_when(_first(values, version, "end") or str(values.get("end") or "")),
        latitude=lat,
        longitude=lon,
        area_code=_area(values),
        incomplete=incomplete,
    )
    try:
        with transaction.atomic():
            previous = None
            if submission.deprecated_id:
                previous = (
                    Submission.objects.select_for_update()
                    .filter(form=form, instance_id=submission.deprecated_id)
                    .first()
                )
                if previous is not None:
                    submission.root_id = previous.root_id
            if previous is None and (instance_meta or {}).get("root_id"):
                # A pulled record first seen after an edit: the server names the chain's first instance.
                submission.root_id = str(instance_meta["root_id"])[:255]
            submission.save()
            added = _attach(submission, attachments)
            if previous is not None and previous.superseded_by_id is None:
                previous.superseded_by = submission
                previous.status = Submission.Status.SUPERSEDED
                previous.save(update_fields=["superseded_by", "status"])
    except IntegrityError:
        return _again(form, submission, attachments, incomplete, by)
    from .quality import flags_on_arrival

    flags_on_arrival(submission)
    _queue_processing(submission, bound=form.bound)
    return Received(submission, Outcome.EDIT if submission.deprecated_id else Outcome.CREATED, added)


def _again(form: Form, incoming: Submission, attachments: list[Upload], incomplete: bool, by) -> Received:
    """The instance is stored already: a re-send (maybe with more attachments) or a conflict."""
    with transaction.atomic():
        stored = Submission.objects.select_for_update().get(form=form, instance_id=incoming.instance_id)
        if stored.raw_sha256 == incoming.raw_sha256 or stored.content_sha256 == incoming.content_sha256:
            added = _attach(stored, attachments)
            if stored.incomplete and not incomplete:
                stored.incomplete = False
                stored.save(update_fields=["incomplete"])
            return Received(stored, Outcome.DUPLICATE, added)
        conflict, _ = SubmissionConflict.objects.get_or_create(
            submission=stored,
            raw_sha256=incoming.raw_sha256,
            defaults={"raw": incoming.raw, "submitted_by": by if getattr(by, "pk", None) else None},
        )
    log.warning("submission conflict on form %s: conflict %s kept for review", form.pk, conflict.pk)
    return Received(stored, Outcome.CONFLICT)


PROCESS_COALESCE_SECONDS = 1.0


def _queue_processing(submission: Submission, bound: bool | None = None) -> None:
    """Run the form's binding on its queued submissions after the commit (background worker).

    A form without a binding queues nothing (its submissions wait, "received", until it is bound
    and re-processed). Under load, one task per form and second drains everything queued: the first
    submission of a window schedules the task a little after the window closes, so each submission
    commits before a task that will see it runs; the periodic safety net catches the rest.
    """
    from django.core.cache import cache
    from huey.contrib.djhuey import HUEY

    from .tasks import process_submission

    if bound is None:
        bound = Binding.objects.filter(form_id=submission.form_id, active=True).exists()
    if not bound:
        return  # not bound: nothing to process into
    form_id, pk = submission.form_id, submission.pk

    def queue() -> None:
        if HUEY.immediate:
            process_submission(pk)
        elif cache.add(f"collection:process:{form_id}", 1, timeout=PROCESS_COALESCE_SECONDS):
            process_submission.schedule(args=(pk,), delay=PROCESS_COALESCE_SECONDS + 0.5)

    transaction.on_commit(queue)

"""OpenRosa endpoints for ODK Collect, KoboCollect and Enketo: form list, form download, manifest, media,
submission. The server address a phone is given is ``https://HOST/collect/<operation-slug>``.

Status codes follow the OpenRosa Form Submission API (docs.getodk.org/openrosa-form-submission):
201 "form received", 202 "we got and saved your data ... you should not try to resubmit". ODK Collect
marks an instance sent on 201 or 202 only, and shows the OpenRosaResponse message otherwise
(InstanceServerUploader). So:

- a new instance (or an edit, or more attachments of a split post) → 201;
- the same instance again (a re-send) → 202, nothing new stored;
- a different body under a stored instanceID → 202: the body is kept as a SubmissionConflict for
  a data manager, the phone marks it sent and stops retrying. ODK Central answers 409 here, which
  leaves the instance failed on the phone and resent by hand forever; the data is safe on our side.

The views are thin: who is calling (``auth``), what they may do (``can``), then
``services.submission_receive``. Nothing personal is logged: ids only.
"""

from __future__ import annotations

import functools
import logging
from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.db.models import Exists, OuterRef
from django.http import FileResponse, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt

from mobility.core.models import Operation
from mobility.core.permissions import Action, can

from .auth import authenticate_request, challenge
from .models import Form, FormVersion, MediaFile
from .selectors import forms_to_submit
from .services import Outcome, SubmissionRefused, Upload, submission_receive

log = logging.getLogger(__name__)

OPENROSA_VERSION = "1.0"
RESPONSE_NS = "http://openrosa.org/http/response"
XFORMS_LIST_NS = "http://openrosa.org/xforms/xformsList"
MANIFEST_NS = "http://openrosa.org/xforms/xformsManifest"
XML_CONTENT_TYPE = "text/xml; charset=utf-8"

OPERATION_UNKNOWN = 'No operation "{slug}" on this server; check the server address in the app settings.'
NOT_A_COLLECTOR = (
    'This account may not download forms or send submissions in the operation "{operation}"; '
    "a data manager can give it the enumerator role."
)
SESSION_NEEDS_HEADER = "A browser session may send submissions only with the X-OpenRosa-Version header."
FORM_NOT_FOUND = 'No form "{form_id}" to download in this operation.'
VERSION_NOT_FOUND = 'The form "{form_id}" has no version "{version}".'
MEDIA_NOT_FOUND = 'The form "{form_id}" has no media file "{name}".'
NO_XML_PART = "The submission has no xml_submission_file part (OpenRosa multipart POST)."
POST_TOO_LARGE = (
    "The submission is {size_mb:.1f} MB; this server accepts at most {limit_mb:.1f} MB per request. "
    "Nothing was stored."
)
ATTACHMENT_TOO_LARGE = (
    'The attachment "{name}" is {size_mb:.1f} MB; the largest accepted is {limit_mb:.1f} MB. '
    "Nothing was stored."
)
BAD_MULTIPART = "The submission is not a readable multipart/form-data body. Nothing was stored."
METHOD_NOT_ALLOWED = "{method} is not accepted here."

RECEIVED = "Received. Thank you."
RECEIVED_EDIT = "Received the edited submission; it replaces the earlier one."
RECEIVED_MORE = "Received {count} more attachment(s) of a submission already stored."
ALREADY_RECEIVED = "Already received; nothing new was stored."
KEPT_FOR_REVIEW = (
    "Received, but another submission with the same instanceID and different answers is already "
    "stored: this one is kept for a data manager to review. There is no need to send it again."
)


def accept_content_length() -> int:
    """The largest POST body (bytes) phones should send; Collect splits larger sets of attachments."""
    return int(getattr(settings, "OPENROSA_MAX_POST_BYTES", None) or settings.MAX_UPLOAD_BYTES)


def _with_headers(request, response: HttpResponse) -> HttpResponse:
    response["X-OpenRosa-Version"] = OPENROSA_VERSION
    response["X-OpenRosa-Accept-Content-Length"] = str(accept_content_length())
    # gunicorn always writes its own Date header; a second one would be merged into an unparsable
    # value by clients, so the view adds Date only where the server does not (runserver, tests).
    if not request.META.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
        response["Date"] = http_date()
    return response


def openrosa_message(request, message: str, *, status: int, nature: str = "") -> HttpResponse:
    """An OpenRosaResponse envelope (the body Collect shows to the enumerator)."""
    nature_attr = f" nature={quoteattr(nature)}" if nature else ""
    body = (
        "<?xml version='1.0' encoding='UTF-8' ?>\n"
        f'<OpenRosaResponse xmlns="{RESPONSE_NS}">'
        f"<message{nature_attr}>{escape(message)}</message>"
        "</OpenRosaResponse>"
    )
    return _with_headers(request, HttpResponse(body, status=status, content_type=XML_CONTENT_TYPE))


def _error(request, message: str, status: int) -> HttpResponse:
    return openrosa_message(request, message, status=status, nature="error")


def openrosa_endpoint(*methods: str):
    """Resolve the operation, authenticate, check the SUBMIT permission, add the OpenRosa headers."""

    def decorate(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request, operation: str, **kwargs):
            if request.method not in methods:
                response = _error(request, METHOD_NOT_ALLOWED.format(method=request.method), 405)
                response["Allow"] = ", ".join(methods)
                return response
            op = next(iter(Operation.objects.filter(slug=operation).only("id", "slug", "name")[:1]), None)
            if op is None:
                return _error(request, OPERATION_UNKNOWN.format(slug=operation), 404)
            result = authenticate_request(request)
            if result.user is None:
                response = _error(request, result.message, 401)
                base = reverse("openrosa:form-list", kwargs={"operation": op.slug}).rsplit("/", 1)[0] + "/"
                response["WWW-Authenticate"] = challenge(request, domain=base, stale=result.stale)
                return response
            if (
                result.method == "session"
                and request.method == "POST"
                and not request.headers.get("X-OpenRosa-Version")
            ):
                # Without CSRF tokens (phones have none), a custom header is what a cross-site
                # HTML form cannot send: it keeps a logged-in browser from being made to submit.
                return _error(request, SESSION_NEEDS_HEADER, 403)
            if not can(result.user, Action.SUBMIT, op):
                return _error(request, NOT_A_COLLECTOR.format(operation=op.name), 403)
            return _with_headers(request, view(request, op, result.user, **kwargs))

        return wrapper

    return decorate


# ---------------------------------------------------------------- forms


def _url(request, url_name: str, **kwargs) -> str:
    return request.build_absolute_uri(reverse(f"openrosa:{url_name}", kwargs=kwargs))


def _with_media_flag(versions):
    return versions.annotate(has_media=Exists(MediaFile.objects.filter(version=OuterRef("pk"))))


@openrosa_endpoint("GET", "HEAD")
def form_list(request, operation: Operation, user) -> HttpResponse:
    """OpenRosa Form List API: the open forms this user may submit to (formID, verbose, listAllVersions)."""
    forms = forms_to_submit(user, operation)
    if form_id := request.GET.get("formID"):
        forms = forms.filter(xml_form_id=form_id)
    verbose = request.GET.get("verbose", "").lower() == "true"
    versions = FormVersion.objects.filter(form__in=forms).select_related("form")
    if request.GET.get("listAllVersions", "").lower() != "true":
        versions = versions.filter(pk__in=forms.values("current_version"))
    entries = []
    for version in _with_media_flag(versions).order_by("form__xml_form_id", "-created_at", "-pk"):
        form = version.form
        query = "" if version.pk == form.current_version_id else "?" + urlencode({"version": version.version})
        slug_kwargs = {"operation": operation.slug, "form_id": form.xml_form_id}
        parts = [
            f"<formID>{escape(form.xml_form_id)}</formID>",
            f"<name>{escape(form.title)}</name>",
            f"<version>{escape(version.version)}</version>",
            f"<hash>md5:{version.xml_md5}</hash>",
        ]
        if verbose:
            description = f"{form.title} — version {version.version}, published {version.created_at:%Y-%m-%d}"
            parts.append(f"<descriptionText>{escape(description)}</descriptionText>")
        parts.append(f"<downloadUrl>{escape(_url(request, 'form-xml', **slug_kwargs) + query)}</downloadUrl>")
        if version.has_media:
            parts.append(
                f"<manifestUrl>{escape(_url(request, 'manifest', **slug_kwargs) + query)}</manifestUrl>"
            )
        entries.append("<xform>" + "".join(parts) + "</xform>")
    body = (
        "<?xml version='1.0' encoding='UTF-8' ?>\n"
        f'<xforms xmlns="{XFORMS_LIST_NS}">' + "".join(entries) + "</xforms>"
    )
    return HttpResponse(body, content_type=XML_CONTENT_TYPE)


def _version(request, operation: Operation, form_id: str) -> FormVersion | HttpResponse:
    form = (
        Form.objects.filter(operation=operation, xml_form_id=form_id)
        .select_related("current_version")
        .first()
    )
    if form is None or form.current_version is None:
        return _error(request, FORM_NOT_FOUND.format(form_id=form_id), 404)
    wanted = request.GET.get("version")
    if wanted is None or wanted == form.current_version.version:
        return form.current_version
    version = form.versions.filter(version=wanted).first()
    if version is None:
        return _error(request, VERSION_NOT_FOUND.format(form_id=form_id, version=wanted), 404)
    return version


@openrosa_endpoint("GET", "HEAD")
def form_xml(request, operation: Operation, user, form_id: str) -> HttpResponse:
    """The XForm XML, byte for byte what the form list's md5 hash was computed on."""
    version = _version(request, operation, form_id)
    if isinstance(version, HttpResponse):
        return version
    response = HttpResponse(version.xml.encode("utf-8"), content_type=XML_CONTENT_TYPE)
    response["Content-Disposition"] = f'inline; filename="{version.form.xml_form_id}.xml"'
    return response


@openrosa_endpoint("GET", "HEAD")
def manifest(request, operation: Operation, user, form_id: str) -> HttpResponse:
    """OpenRosa manifest: filename, md5 hash and download address of each media file of the version."""
    version = _version(request, operation, form_id)
    if isinstance(version, HttpResponse):
        return version
    files = []
    for media in version.media.order_by("name"):
        url = _url(
            request, "media", operation=operation.slug, form_id=form_id, media_id=media.pk, name=media.name
        )
        files.append(
            f"<mediaFile><filename>{escape(media.name)}</filename><hash>md5:{media.md5}</hash>"
            f"<downloadUrl>{escape(url)}</downloadUrl></mediaFile>"
        )
    body = (
        "<?xml version='1.0' encoding='UTF-8' ?>\n"
        f'<manifest xmlns="{MANIFEST_NS}">' + "".join(files) + "</manifest>"
    )
    return HttpResponse(body, content_type=XML_CONTENT_TYPE)


@openrosa_endpoint("GET", "HEAD")
def media(request, operation: Operation, user, form_id: str, media_id: int, name: str) -> HttpResponse:
    item = (
        MediaFile.objects.filter(
            pk=media_id, name=name, version__form__operation=operation, version__form__xml_form_id=form_id
        )
        .select_related("version__form")
        .first()
    )
    if item is None:
        return _error(request, MEDIA_NOT_FOUND.format(form_id=form_id, name=name), 404)
    response = FileResponse(
        item.file.open("rb"), content_type=item.content_type or "application/octet-stream", filename=item.name
    )
    response["Content-Length"] = str(item.size_bytes or item.file.size)
    return response


# ---------------------------------------------------------------- submissions


def _too_large(request, name: str, size: int) -> HttpResponse:
    limit = accept_content_length()
    return _error(
        request, ATTACHMENT_TOO_LARGE.format(name=name, size_mb=size / 2**20, limit_mb=limit / 2**20), 413
    )


@openrosa_endpoint("HEAD", "POST")
def submission(request, operation: Operation, user) -> HttpResponse:
    """HEAD: 204 with the size limit (Collect checks it first). POST: one (part of a) submission."""
    if request.method == "HEAD":
        return HttpResponse(status=204)
    limit = accept_content_length()
    try:
        files, fields = request.FILES, request.POST
    except RequestDataTooBig:
        size = int(request.META.get("CONTENT_LENGTH") or 0)
        return _error(request, POST_TOO_LARGE.format(size_mb=size / 2**20, limit_mb=limit / 2**20), 413)
    except (MultiPartParserError, TooManyFilesSent):
        return _error(request, BAD_MULTIPART, 400)
    if getattr(request, "upload_refused", None):
        # SizeLimitUploadHandler stopped the body before any of it was written.
        size = int(request.META.get("CONTENT_LENGTH") or 0)
        log.info("openrosa submission refused: body of %d bytes over the limit (user %s)", size, user.pk)
        return _error(request, POST_TOO_LARGE.format(size_mb=size / 2**20, limit_mb=limit / 2**20), 413)
    xml_file = files.get("xml_submission_file")
    if xml_file is not None:
        if xml_file.size > limit:
            return _too_large(request, "xml_submission_file", xml_file.size)
        raw = xml_file.read()
    elif fields.get("xml_submission_file"):
        raw = fields["xml_submission_file"].encode("utf-8")
    else:
        return _error(request, NO_XML_PART, 400)
    parts = [f for key, items in files.lists() if key != "xml_submission_file" for f in items]
    for part in parts:
        if part.size > limit:
            return _too_large(request, part.name, part.size)
    uploads = [Upload(part.name, part.read(), part.content_type or "") for part in parts]
    incomplete = fields.get("*isIncomplete*", "").strip().lower() == "yes"
    try:
        received = submission_receive(
            operation=operation, raw=raw, attachments=uploads, by=user, incomplete=incomplete
        )
    except SubmissionRefused as exc:
        log.info(
            "openrosa submission refused with %s in operation %s (user %s)", exc.status, operation.pk, user.pk
        )
        return _error(request, str(exc), exc.status)
    log.info(
        "openrosa submission %s: %s, %d attachment(s) added (user %s)",
        received.submission.pk,
        received.outcome,
        received.attachments_added,
        user.pk,
    )
    if received.outcome == Outcome.CREATED:
        return openrosa_message(request, RECEIVED, status=201, nature="submit_success")
    if received.outcome == Outcome.EDIT:
        return openrosa_message(request, RECEIVED_EDIT, status=201, nature="submit_success")
    if received.outcome == Outcome.CONFLICT:
        return openrosa_message(request, KEPT_FOR_REVIEW, status=202, nature="submit_success")
    if received.attachments_added:
        message = RECEIVED_MORE.format(count=received.attachments_added)
        return openrosa_message(request, message, status=201, nature="submit_success")
    return openrosa_message(request, ALREADY_RECEIVED, status=202, nature="submit_success")

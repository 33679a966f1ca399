"""Pages of the collection app for information management officers. Thin: reads via selectors,
writes via services.

Who sees what: a form and its submissions need view rights in the form's operation (others get a
404, so an outsider learns nothing of it); uploads, state changes, corrections, re-processing and
conflict resolution need import rights (403 for a viewer); personal fields and attachments are
shown only where ``selectors.personal_allowed`` says so.
"""

from __future__ import annotations

import importlib
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from mobility.core.permissions import Action, can, operations_for

from . import conflicts, qr, selectors, services
from .bindings import binding_current
from .exports import submissions_export, submissions_filtered
from .forms_web import (
    EXPORT_FORMATS,
    BindingForm,
    ConflictResolveForm,
    CorrectionForm,
    FormStateForm,
    MediaUploadForm,
    SubmissionFilterForm,
    XLSFormUploadForm,
    correction_items,
    filter_params,
    pyxform_problem,
    pyxform_problems,
)
from .models import Attachment, Binding, Form, FormVersion, MediaFile, Submission, SubmissionConflict
from .xforms import InstanceError, instance_parse

SUBMISSIONS_PER_PAGE = 50
ATTENTION_PER_PAGE = 50
ROW_ERRORS_SHOWN = 50
WARNINGS_FLASHED = 10
# The list pages never load the bodies: raw XML and values stay in the database.
LIST_DEFERRED = ("raw", "data", "corrections")
BOUNDARIES_URL = "/api/v1/gazetteer/boundaries"
STATE_SHORT = {
    Form.State.OPEN: gettext_lazy("Open"),
    Form.State.CLOSING: gettext_lazy("Closing"),
    Form.State.CLOSED: gettext_lazy("Closed"),
}
NOT_YET = gettext_lazy("This is not available yet on this server: %(what)s.")


# ---------------------------------------------------------------- lookups


def _form_for(request, pk: int, action: Action = Action.VIEW) -> Form:
    """The form, when the user may view it (404 otherwise); 403 when they may view but not act."""
    form = get_object_or_404(selectors.forms_for(request.user, Action.VIEW), pk=pk)
    if action != Action.VIEW and not can(request.user, action, form.operation):
        raise PermissionDenied
    form.state_short = STATE_SHORT.get(form.state, form.state)
    return form


def _submission_for(request, pk: int, action: Action = Action.VIEW) -> Submission:
    submission = get_object_or_404(
        selectors.submissions_for(request.user).select_related(
            "form", "form__operation", "form__current_version", "form_version", "import_job", "superseded_by"
        ),
        pk=pk,
    )
    if action != Action.VIEW and not can(request.user, action, submission.form.operation):
        raise PermissionDenied
    _registration_guard(request, submission.form, submission=submission)
    return submission


def _registration_guard(request, form: Form, *, export: bool = False, submission=None) -> None:
    """Submissions of a form bound to registration are personal records: a registration grant
    (view, or export for lists) is needed, and each look is written to the access log."""
    from mobility.registration.forms_binding import submissions_guard

    submissions_guard(request.user, form, export=export, submission=submission)


def _optional(module: str, name: str):
    """A function another part of the app provides, or None while it is not written."""
    try:
        return getattr(importlib.import_module(f"mobility.collection.{module}"), name, None)
    except ImportError:
        return None


def _language(request, version: FormVersion | None) -> str:
    """The label language: ?lang=, else the one matching the interface language, else the form's default."""
    languages = list(version.languages or []) if version else []
    chosen = request.GET.get("lang", "")
    if chosen in languages:
        return chosen
    code = (get_language() or "").split("-")[0]
    for language in languages:
        if language.endswith(f"({code})"):
            return language
    if version and version.default_language in languages:
        return version.default_language
    return languages[0] if languages else ""


def _label(labels: dict | None, language: str, fallback: str = "") -> str:
    labels = labels or {}
    return labels.get(language) or labels.get("default") or next(iter(labels.values()), "") or fallback


# ---------------------------------------------------------------- forms


@login_required
def form_list(request):
    """The forms of the operations the user may view, and the XLSForm upload for data managers."""
    upload = XLSFormUploadForm(user=request.user)
    may_upload = bool(upload.operations)
    problems: list = []
    if request.method == "POST":
        if not may_upload:
            raise PermissionDenied
        upload = XLSFormUploadForm(request.POST, request.FILES, user=request.user)
        refused = getattr(request, "upload_refused", None)
        if refused:
            upload.is_valid()
            upload.add_error("file", refused)
        elif upload.is_valid():
            file = upload.cleaned_data["file"]
            try:
                version = services.form_publish(
                    operation=upload.cleaned_data["operation_obj"],
                    data=file.read(),
                    filename=file.name,
                    by=request.user,
                )
            except ValidationError as exc:
                problems = [pyxform_problem(message) for message in exc.messages]
            else:
                return _published(request, version)
    elif request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    rows = list(selectors.form_rows(request.user))
    for row in rows:
        row.state_short = STATE_SHORT.get(row.state, row.state)
    return render(
        request,
        "collection/form_list.html",
        {
            "forms": rows,
            "upload": upload,
            "may_upload": may_upload,
            "problems": problems,
            "attention_total": sum(form.attention_count for form in rows) if may_upload else 0,
        },
        status=400 if problems else 200,
    )


def _published(request, version: FormVersion):
    messages.success(
        request,
        _('Form "%(form_id)s" version %(version)s is published.')
        % {"form_id": version.form.xml_form_id, "version": version.version},
    )
    warnings = pyxform_problems(version.warnings)
    for problem in warnings[:WARNINGS_FLASHED]:
        where = _where(problem)
        messages.warning(request, f"{where}: {problem.text}" if where else problem.text)
    if len(warnings) > WARNINGS_FLASHED:
        messages.warning(
            request,
            _("%(count)s more warnings are listed with the version.")
            % {"count": len(warnings) - WARNINGS_FLASHED},
        )
    return redirect("collection:form", pk=version.form_id)


def _where(problem) -> str:
    if problem.row:
        return _("sheet %(sheet)s, row %(row)s") % {"sheet": problem.sheet, "row": problem.row}
    return _("sheet %(sheet)s") % {"sheet": problem.sheet} if problem.sheet else ""


@login_required
def form_detail(request, pk):
    form = _form_for(request, pk)
    may_manage = can(request.user, Action.IMPORT, form.operation)
    versions = list(form.versions.select_related("created_by").prefetch_related("media"))
    current = form.current_version
    binding = binding_current(form)
    save_binding = _optional("bindings", "binding_save")
    context = {
        "form": form,
        "operation": form.operation,
        "may_manage": may_manage,
        "versions": [
            {"version": v, "problems": pyxform_problems(v.warnings), "media": list(v.media.all())}
            for v in versions
        ],
        "current": current,
        "media_total": sum(len(v.media.all()) for v in versions),
        "missing_media": selectors.media_missing(current) if current else [],
        "referenced_media": selectors.media_referenced(current) if current else [],
        "binding": binding,
        "binding_rows": _binding_rows(binding, current, _language(request, current)),
        "binding_editable": save_binding is not None and may_manage,
        "counts": _counts(form),
        **_collect_context(request, form),
    }
    if may_manage:
        context["media_form"] = MediaUploadForm(form=form)
        context["state_form"] = FormStateForm(initial={"state": form.state})
        if save_binding is not None:
            context["binding_form"] = BindingForm(fields=current.fields if current else [], binding=binding)
            context["binding_columns"] = _binding_columns(form, binding)
    return render(request, "collection/form_detail.html", context)


def _counts(form: Form) -> dict:
    from django.db.models import Count, Q

    return Submission.objects.filter(form=form).aggregate(
        total=Count("pk", filter=~Q(status=Submission.Status.SUPERSEDED)),
        attention=Count("pk", filter=Q(status=Submission.Status.NEEDS_ATTENTION)),
        processed=Count("pk", filter=Q(status=Submission.Status.PROCESSED)),
    )


def _binding_columns(form: Form, binding) -> list[str]:
    """The columns the bound target (or, unbound, the baseline template) takes, to suggest while typing."""
    spec_of = _optional("bindings", "target_spec")
    if spec_of is None:
        return []
    try:
        return list(spec_of(binding.target if binding else Binding.Target.BASELINE).columns(form.operation))
    except (ValidationError, ImportError, ValueError):
        return []


def _binding_rows(binding, version: FormVersion | None, language: str) -> list[dict]:
    if binding is None:
        return []
    fields = {f["path"]: f for f in (version.fields if version else [])}
    return [
        {
            "column": column,
            "path": path,
            "label": _label(fields[path].get("labels"), language, fields[path]["name"])
            if path in fields
            else "",
            "known": path in fields,
        }
        for column, path in binding.mapping.items()
    ]


def _collect_context(request, form: Form) -> dict:
    """The server URL to type into ODK Collect and its settings QR code (never with a password)."""
    operation = form.operation
    server_url = request.build_absolute_uri(f"/collect/{operation.slug}")
    usernames = selectors.collect_usernames(operation) if can(request.user, Action.IMPORT, operation) else []
    asked = request.GET.get("collect_user", "")
    if asked in usernames:
        username = asked
    elif can(request.user, Action.SUBMIT, operation):
        username = request.user.get_username()
    else:
        username = ""
    settings = qr.collect_settings(server_url=server_url, username=username, project_name=operation.name)
    payload = qr.collect_payload(settings)
    return {
        "collect_url": server_url,
        "collect_username": username,
        "collect_usernames": usernames,
        "collect_qr": qr.qr_svg(
            payload, title=_("ODK Collect settings for %(name)s") % {"name": operation.name}
        ),
        "collect_payload": payload,
    }


@login_required
@require_POST
def form_state(request, pk):
    form = _form_for(request, pk, Action.IMPORT)
    state_form = FormStateForm(request.POST)
    if state_form.is_valid():
        services.form_state_set(form=form, state=state_form.cleaned_data["state"], by=request.user)
        messages.success(request, _("The form is now: %(state)s.") % {"state": form.get_state_display()})
    else:
        messages.error(request, _("Choose open, closing or closed."))
    return redirect("collection:form", pk=form.pk)


@login_required
@require_POST
def media_upload(request, pk):
    form = _form_for(request, pk, Action.IMPORT)
    media_form = MediaUploadForm(request.POST, request.FILES, form=form)
    refused = getattr(request, "upload_refused", None)
    if refused:
        messages.error(request, refused)
    elif media_form.is_valid():
        upload = media_form.cleaned_data["file"]
        try:
            media = services.media_attach(
                version=media_form.cleaned_data["version"],
                name=media_form.media_name(),
                data=upload.read(),
                content_type=upload.content_type or "",
                by=request.user,
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                _("%(name)s is attached to version %(version)s.")
                % {"name": media.name, "version": media.version.version},
            )
    else:
        messages.error(request, " ".join(e for errors in media_form.errors.values() for e in errors))
    return redirect(reverse("collection:form", args=[form.pk]) + "#media")


@login_required
@require_POST
def binding_edit(request, pk):
    form = _form_for(request, pk, Action.IMPORT)
    save = _optional("bindings", "binding_save")
    if save is None:
        messages.error(request, NOT_YET % {"what": _("editing a binding")})
        return redirect("collection:form", pk=form.pk)
    current = form.current_version
    binding_form = BindingForm(request.POST, fields=current.fields if current else [], binding=None)
    if binding_form.is_valid():
        data = binding_form.cleaned_data
        try:
            binding = save(
                form=form,
                target=data["target"],
                mapping=data["mapping"],
                constants=data["constants"],
                by=request.user,
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        except PermissionDenied as exc:  # e.g. a registration binding without the register grant
            messages.error(request, str(exc))
        else:
            messages.success(
                request, _("Binding saved (version %(version)s).") % {"version": binding.version}
            )
    else:
        messages.error(request, " ".join(e for errors in binding_form.errors.values() for e in errors))
    return redirect(reverse("collection:form", args=[form.pk]) + "#binding")


def _version_for(request, pk, version_pk) -> FormVersion:
    form = _form_for(request, pk)
    return get_object_or_404(FormVersion.objects.select_related("form"), pk=version_pk, form=form)


@login_required
@require_GET
def version_xlsform(request, pk, version_pk):
    version = _version_for(request, pk, version_pk)
    if not version.xlsform:
        raise Http404("this version came as XForm XML, without a workbook")
    suffix = version.xlsform.name.rsplit(".", 1)[-1] if "." in version.xlsform.name else "xlsx"
    return FileResponse(
        version.xlsform.open("rb"),
        as_attachment=True,
        filename=f"{version.form.xml_form_id}-{version.version}.{suffix}",
    )


@login_required
@require_GET
def version_xml(request, pk, version_pk):
    version = _version_for(request, pk, version_pk)
    response = HttpResponse(version.xml, content_type="text/xml; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{version.form.xml_form_id}-{version.version}.xml"'
    )
    return response


@login_required
@require_GET
def media_download(request, pk, version_pk, media_pk):
    version = _version_for(request, pk, version_pk)
    media = get_object_or_404(MediaFile, pk=media_pk, version=version)
    return FileResponse(media.file.open("rb"), as_attachment=True, filename=media.name)


# ---------------------------------------------------------------- submissions


def _filter_form(request, form: Form) -> SubmissionFilterForm:
    known = dict(getattr(importlib.import_module("mobility.collection.quality"), "FLAG_CODES", {}))
    seen = selectors.submission_flag_codes(form)
    return SubmissionFilterForm(
        request.GET or None,
        enumerators=selectors.submission_enumerators(form),
        flag_codes={**{code: code for code in seen}, **known},
    )


@login_required
@require_GET
def submission_list(request, pk):
    form = _form_for(request, pk)
    _registration_guard(request, form)
    filter_form = _filter_form(request, form)
    filters = filter_form.filters()
    submissions = submissions_filtered(form, filters).defer(*LIST_DEFERRED)
    page = Paginator(submissions, SUBMISSIONS_PER_PAGE).get_page(request.GET.get("page"))
    version = form.current_version
    params = filter_params(filters)
    return render(
        request,
        "collection/submission_list.html",
        {
            "form": form,
            "operation": form.operation,
            "filter_form": filter_form,
            "page": page,
            "filter_params": params,
            "geojson_query": urlencode(params),
            "boundaries_url": _boundaries_url(form, filters),
            "geojson_url": reverse("collection:submissions_geojson", args=[form.pk]),
            "export_url": reverse("collection:submissions_export", args=[form.pk]),
            "export_formats": EXPORT_FORMATS,
            "languages": list(version.languages or []) if version else [],
            "language": _language(request, version),
            "personal_allowed": selectors.personal_allowed(request.user, form.operation),
            "filtered": bool(params),
        },
    )


def _boundaries_url(form: Form, filters) -> str:
    """Admin boundaries behind the points: the filtered area's children, else the country's provinces."""
    country = form.operation.country_iso3
    if not country:
        return ""
    where = {"parent_code": filters.area_code} if filters.area_code else {"admin_level": 1}
    return f"{BOUNDARIES_URL}?{urlencode({'location_code': country, **where})}"


@login_required
@require_GET
def submission_geojson(request, pk):
    """The GPS points of the filtered submissions: coordinates, id, status and flag codes; no values."""
    form = _form_for(request, pk)
    _registration_guard(request, form)
    filters = _filter_form(request, form).filters()
    points = selectors.submission_points(submissions_filtered(form, filters))
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [p["lon"], p["lat"]]},
            "properties": {
                "id": p["id"],
                "instance_id": p["instance_id"],
                "status": p["status"],
                "flags": p["flags"],
            },
        }
        for p in points
    ]
    return JsonResponse({"type": "FeatureCollection", "features": features})


@login_required
@require_GET
def submission_export(request, pk):
    form = _form_for(request, pk)
    fmt = request.GET.get("fmt", "csv")
    if fmt not in dict(EXPORT_FORMATS):
        return HttpResponse(_("Unknown export format."), status=400, content_type="text/plain; charset=utf-8")
    version = form.current_version
    language = request.GET.get("language", "")
    if language and language not in (version.languages if version else []):
        language = ""
    filters = _filter_form(request, form).filters()
    try:
        body, content_type, filename = submissions_export(
            form=form, user=request.user, fmt=fmt, language=language or None, filters=filters
        )
    except (ValidationError, ValueError) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        return redirect("collection:submissions", pk=form.pk)
    if isinstance(body, bytes | str):
        response = HttpResponse(body, content_type=content_type)
    else:  # a CSV streamed in chunks
        response = StreamingHttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def submission_detail(request, pk):
    submission = _submission_for(request, pk)
    form = submission.form
    operation = form.operation
    allowed = selectors.personal_allowed(request.user, operation)
    may_manage = can(request.user, Action.IMPORT, operation)
    version = selectors.version_of(submission)
    language = _language(request, version)
    values = selectors.visible_values(submission, allowed_personal=allowed)
    rows = _value_rows(submission, version, values, language, allowed)
    row_errors = _row_errors(submission)
    context = {
        "submission": submission,
        "form": form,
        "operation": operation,
        "version": version,
        "languages": list(version.languages or []) if version else [],
        "language": language,
        "rows": rows,
        "personal_allowed": allowed,
        "personal_hidden": sum(1 for row in rows if row["hidden"]),
        "may_manage": may_manage,
        "attachments": list(submission.attachments.all()),
        "chain": selectors.submission_chain(submission),
        "conflicts": _conflict_rows(submission, allowed),
        "row_errors": row_errors,
        "row_errors_entries": any(e["row"] for e in row_errors),
        "correct_available": _optional("processing", "submission_correct") is not None,
    }
    if may_manage and submission.is_current:
        items = correction_items(
            version,
            submission.values,
            label=lambda f: _label(f.get("labels"), language, f["name"]),
            allowed_personal=allowed,
        )
        context["correction_form"] = CorrectionForm(items=items)
    return render(request, "collection/submission_detail.html", context)


def _row_errors(submission: Submission) -> list[dict]:
    """The row errors that keep the submission waiting, told with the form's fields where processing can."""
    if submission.import_job_id is None:
        return []
    told = _optional("processing", "submission_errors")
    errors = told(submission) if told is not None else []
    if errors:
        return [
            {
                "row": e.entry,
                "repeat": e.repeat if e.entry else "",
                "column": e.column,
                "field": e.field,
                "value": e.value,
                "message": e.message,
            }
            for e in errors
        ]
    return [
        {
            "row": e.row or None,
            "repeat": "",
            "column": e.column,
            "field": "",
            "value": e.value,
            "message": e.message,
        }
        for e in submission.import_job.row_errors.all()[:ROW_ERRORS_SHOWN]
    ]


def _choice_label(version: FormVersion | None, field: dict, value: str, language: str) -> str:
    choices = (version.choices or {}).get(field.get("list") or "", {}) if version else {}
    if not choices or not value:
        return ""
    if field.get("type", "").startswith("select all") or field.get("type") == "select_multiple":
        return ", ".join(_label(choices.get(v), language, v) for v in value.split())
    return _label(choices.get(value), language, "")


def _value_rows(submission: Submission, version, values: dict, language: str, allowed: bool) -> list[dict]:
    """The values in the form's order, labelled; personal fields hidden (their values never reach the page)."""
    rows: list[dict] = []
    known: set[str] = set()
    fields = version.fields if version else []
    in_repeat = {f["path"] for f in fields if f.get("repeat")}
    for field in fields:
        path = field["path"]
        known.add(path)
        if path in in_repeat:
            continue
        hidden = bool(field.get("personal")) and not allowed
        row = {
            "path": path,
            "name": field["name"],
            "label": _label(field.get("labels"), language, field["name"]),
            "type": field.get("type", ""),
            "personal": bool(field.get("personal")),
            "hidden": hidden,
            "value": "",
            "choice": "",
            "entries": [],
            "corrected": False,
            "original": "",
        }
        if hidden:
            rows.append(row)
            continue
        value = values.get(path, "")
        if field.get("type") == "repeat":
            inner = [f for f in fields if f.get("repeat") == path]
            row["entries"] = [
                [_entry_row(f, entry, version, language, allowed) for f in inner if f.get("type") != "repeat"]
                for entry in (value if isinstance(value, list) else [])
            ]
        else:
            row["value"] = "" if isinstance(value, list | dict) else str(value)
            row["choice"] = _choice_label(version, field, row["value"], language)
        if path in submission.corrections:
            row["corrected"] = True
            row["original"] = str(submission.data.get(path, ""))
        rows.append(row)
    for path, value in values.items():
        if path in known or isinstance(value, list | dict):
            continue
        rows.append(
            {
                "path": path,
                "name": path.rsplit("/", 1)[-1],
                "label": path,
                "type": "",
                "personal": False,
                "hidden": False,
                "value": str(value),
                "choice": "",
                "entries": [],
                "corrected": path in submission.corrections,
                "original": str(submission.data.get(path, "")),
            }
        )
    return rows


def _entry_row(field: dict, entry: dict, version, language: str, allowed: bool) -> dict:
    hidden = bool(field.get("personal")) and not allowed
    value = "" if hidden else entry.get(field["path"], "")
    value = "" if isinstance(value, list | dict) else str(value)
    return {
        "label": _label(field.get("labels"), language, field["name"]),
        "hidden": hidden,
        "value": value,
        "choice": "" if hidden else _choice_label(version, field, value, language),
    }


def _conflict_rows(submission: Submission, allowed: bool) -> list[dict]:
    """Each conflicting body with the fields where it differs (their values only where personal data is allowed)."""
    rows = []
    version = selectors.version_of(submission)
    personal = version.personal_paths if version else set()
    for conflict in submission.conflicts.select_related("submitted_by", "resolved_by"):
        differences = []
        try:
            other = instance_parse(bytes(conflict.raw)).data
        except InstanceError:
            other = None
        if other is not None:
            stored = submission.data
            for path in sorted(set(stored) | set(other)):
                if path.startswith("meta/") or stored.get(path) == other.get(path):
                    continue
                show = allowed or path not in personal
                differences.append(
                    {
                        "path": path,
                        "stored": _short(stored.get(path)) if show else None,
                        "other": _short(other.get(path)) if show else None,
                    }
                )
        rows.append({"conflict": conflict, "differences": differences, "readable": other is not None})
    return rows


def _short(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return _("%(count)s repeat entries") % {"count": len(value)}
    return str(value)[:120]


@login_required
@require_POST
def submission_correct(request, pk):
    submission = _submission_for(request, pk, Action.IMPORT)
    correct = _optional("processing", "submission_correct")
    if correct is None:
        messages.error(request, NOT_YET % {"what": _("correcting a submission")})
        return redirect("collection:submission", pk=submission.pk)
    items = correction_items(
        selectors.version_of(submission), submission.values, label=lambda f: f["name"], allowed_personal=True
    )
    correction_form = CorrectionForm(request.POST, items=items)
    if not correction_form.is_valid():
        messages.error(request, " ".join(e for errors in correction_form.errors.values() for e in errors))
        return redirect("collection:submission", pk=submission.pk)
    corrections = correction_form.corrections()
    if not corrections:
        messages.info(request, _("Nothing was changed."))
        return redirect("collection:submission", pk=submission.pk)
    try:
        correct(submission=submission, corrections=corrections, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("%(count)s values corrected; the submission is processed again (the original is kept).")
            % {"count": len(corrections)},
        )
    return redirect("collection:submission", pk=submission.pk)


@login_required
@require_POST
def submission_reprocess(request, pk):
    submission = _submission_for(request, pk, Action.IMPORT)
    try:
        conflicts.submission_reprocess_request(submission=submission, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The submission is queued to be processed again."))
    return redirect("collection:submission", pk=submission.pk)


@login_required
@require_GET
def attachment_download(request, pk, attachment_pk):
    submission = _submission_for(request, pk)
    if not selectors.personal_allowed(request.user, submission.form.operation):
        raise PermissionDenied
    attachment = get_object_or_404(Attachment, pk=attachment_pk, submission=submission)
    return FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.name)


@login_required
@require_POST
def conflict_resolve(request, pk, conflict_pk):
    submission = _submission_for(request, pk, Action.IMPORT)
    conflict = get_object_or_404(SubmissionConflict, pk=conflict_pk, submission=submission)
    resolve_form = ConflictResolveForm(request.POST)
    if not resolve_form.is_valid():
        messages.error(request, _("Choose to keep the stored submission or to replace it."))
    else:
        try:
            conflict = conflicts.conflict_resolve(
                conflict=conflict, resolution=resolve_form.cleaned_data["resolution"], by=request.user
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request, _("Conflict resolved: %(how)s.") % {"how": conflict.get_resolution_display()}
            )
    return redirect(reverse("collection:submission", args=[submission.pk]) + "#conflicts")


@login_required
@require_GET
def attention(request):
    """Submissions waiting for a data manager, across the forms the user may import into."""
    if not (request.user.is_superuser or operations_for(request.user, Action.IMPORT).exists()):
        raise PermissionDenied
    submissions = selectors.attention_list(request.user).defer(*LIST_DEFERRED)
    page = Paginator(submissions, ATTENTION_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "collection/attention.html", {"page": page})

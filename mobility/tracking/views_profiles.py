"""Source profile pages: map a workbook's columns once, save the mapping, import the next round with it.

Also the template download. Thin: the work is in tracking.profiles and core.imports.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mobility.core import imports
from mobility.core.models import Operation
from mobility.core.permissions import Action, can, operations_for
from mobility.core.tables import TableError

from . import profiles
from .models import AssessmentType, SourceProfile

DRAFT_DIR = "profile_drafts"
DATA_DIR = Path(__file__).resolve().parent / "data"
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".csv")


def _may_import_somewhere(user) -> bool:
    return can(user, Action.IMPORT, None) or operations_for(user, Action.IMPORT).exists()


def _draft_path(token: str) -> Path:
    if not token or not all(c.isalnum() or c in "-_." for c in token) or ".." in token:
        raise Http404
    found = Path(settings.MEDIA_ROOT) / DRAFT_DIR / token
    if not found.exists():
        raise Http404
    return found


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Workbook"),
        help_text=gettext_lazy("An XLSX (or CSV) file as the source publishes it."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(WORKBOOK_SUFFIXES):
            raise ValidationError(_("Send an XLSX, XLS, ODS or CSV file."))
        if upload.size > settings.MAX_UPLOAD_BYTES:
            raise ValidationError(_("The file is too large."))
        return upload


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Workbook"))
    operation = forms.ChoiceField(label=gettext_lazy("Operation"))
    round = forms.IntegerField(label=gettext_lazy("Round number"), min_value=1)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.operations = {str(op.pk): op for op in operations_for(user, Action.IMPORT).order_by("name")}
        self.fields["operation"].choices = [(pk, op.name) for pk, op in self.operations.items()]

    def clean(self):
        data = super().clean()
        operation = self.operations.get(data.get("operation") or "")
        if operation is None or not can(self.user, Action.IMPORT, operation):
            raise ValidationError(_("You may not import files into this operation."))
        data["operation_obj"] = operation
        return data


def _field_groups(bands) -> list[tuple[str, list[str]]]:
    return [
        (_("Place and date"), profiles.PLACE_FIELDS),
        (_("Population groups"), profiles.group_fields()),
        (_("Sex and age of IDPs"), profiles.sadd_fields(bands)),
        (_("Reason, origin and shelter"), profiles.DETAIL_FIELDS),
    ]


@login_required
def profile_list(request):
    if not SourceProfile.objects.filter(built_in=True).exists():
        profiles.builtin_profiles_load()
    return render(
        request,
        "tracking/profile_list.html",
        {
            "profiles": SourceProfile.objects.select_related("operation").order_by("-built_in", "name"),
            "may_import": _may_import_somewhere(request.user),
        },
    )


@login_required
def profile_new(request):
    """Upload a workbook, see its sheets and header, map each field to a column (suggested), preview, save."""
    if not _may_import_somewhere(request.user):
        raise PermissionDenied
    token = request.POST.get("draft") or request.GET.get("draft") or ""
    if not token:
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            token = secrets.token_urlsafe(12) + Path(upload.name).suffix.lower()
            target = Path(settings.MEDIA_ROOT) / DRAFT_DIR
            target.mkdir(parents=True, exist_ok=True)
            with (target / token).open("wb") as fh:
                for chunk in upload.chunks():
                    fh.write(chunk)
            return redirect(f"{request.path}?draft={token}")
        return render(request, "tracking/profile_new.html", {"upload_form": form})

    draft = _draft_path(token)
    data = request.POST if request.method == "POST" else request.GET
    sheet = data.get("sheet") or None
    try:
        outline = profiles.workbook_outline(draft, sheet=sheet)
    except TableError as exc:
        messages.error(request, str(exc))
        return redirect("tracking:profile_new")
    header_row = data.get("header_row") or ""
    if header_row.isdigit() and int(header_row) != outline["header_row"]:
        sheets = profiles.workbook_sheets(draft)
        chosen_sheet = next(s for s in sheets if s.name == outline["sheet"])
        if 1 <= int(header_row) <= len(chosen_sheet.rows):
            outline = profiles.outline_at(chosen_sheet, int(header_row), outline["sheets"])
    level = data.get("level") or outline["level"]
    atype = data.get("assessment_type") or AssessmentType.BASELINE_AREA
    country = (data.get("country") or "").strip().upper()[:3]
    chosen = {}
    for fname in profiles.vocabulary_fields():
        if request.method == "POST":
            value = request.POST.get(f"col_{fname}", "")
        else:
            value = outline["suggestions"].get(fname, ("", 0))[0]
        if value and value in outline["columns"]:
            chosen[fname] = value
    mapping = {
        "sheet": outline["sheet"],
        "header_row": outline["header_row"],
        "level": level if level in profiles.LEVELS else "admin2",
        "constants": {"assessment_type": atype, **({"country": country} if country else {})},
        "columns": chosen,
    }
    preview, problem = None, ""
    try:
        parsed = profiles.Profile.from_mapping(mapping)
        preview = profiles.profile_preview(draft, parsed)
    except (ValidationError, TableError) as exc:
        problem = " ".join(getattr(exc, "messages", [str(exc)]))
    operations = list(operations_for(request.user, Action.IMPORT).order_by("name"))
    if request.method == "POST" and request.POST.get("action") == "save":
        name = (request.POST.get("name") or "").strip().lower()
        label = (request.POST.get("label") or "").strip() or name
        operation = next((op for op in operations if str(op.pk) == request.POST.get("operation")), None)
        if operation is not None and not can(request.user, Action.IMPORT, operation):
            raise PermissionDenied
        try:
            saved = profiles.profile_save(
                name=name, label=label, mapping=mapping, operation=operation, by=request.user
            )
        except ValidationError as exc:
            problem = " ".join(exc.messages)
        else:
            messages.success(request, _("Profile %(name)s saved.") % {"name": saved.name})
            return redirect("tracking:profile_detail", name=saved.name)
    groups = [
        (
            title,
            [
                {
                    "name": f,
                    "chosen": chosen.get(f, ""),
                    "suggested": outline["suggestions"].get(f, ("", 0))[0],
                }
                for f in fields
            ],
        )
        for title, fields in _field_groups(None)
    ]
    return render(
        request,
        "tracking/profile_new.html",
        {
            "draft": token,
            "outline": outline,
            "groups": groups,
            "preview": preview,
            "problem": problem,
            "level": mapping["level"],
            "levels": list(profiles.LEVELS),
            "assessment_type": atype,
            "assessment_types": AssessmentType.choices,
            "country": country,
            "operations": operations,
            "name": request.POST.get("name", ""),
            "label": request.POST.get("label", ""),
            "mapping_json": json.dumps(mapping, indent=2, ensure_ascii=False),
        },
    )


def _profile(name: str) -> SourceProfile:
    try:
        return profiles.profile_get(name)
    except ValidationError:
        raise Http404


@login_required
def profile_detail(request, name):
    profile = _profile(name)
    return render(
        request,
        "tracking/profile_detail.html",
        {
            "profile": profile,
            "columns": sorted(
                (profile.mapping.get("columns") or {}).items(), key=lambda kv: _field_order(kv[0])
            ),
            "mapping_json": json.dumps(profile.mapping, indent=2, ensure_ascii=False),
            "may_import": _may_import_somewhere(request.user),
        },
    )


def _field_order(fname: str) -> int:
    order = profiles.vocabulary_fields()
    return order.index(fname) if fname in order else len(order)


@login_required
def profile_import(request, name):
    """Import a workbook with this profile: a normal import job, shown on the job page."""
    profile = _profile(name)
    if not _may_import_somewhere(request.user):
        raise PermissionDenied
    form = ImportForm(request.POST or None, request.FILES or None, user=request.user)
    if profile.operation_id and str(profile.operation_id) in form.operations:
        form.fields["operation"].initial = str(profile.operation_id)
    if request.method == "POST" and form.is_valid():
        operation: Operation = form.cleaned_data["operation_obj"]
        try:
            job = imports.job_create(
                kind="tracking.profile",
                source=form.cleaned_data["file"],
                original_name=form.cleaned_data["file"].name,
                profile={
                    "source_profile": profile.name,
                    "operation": operation.pk,
                    "round": form.cleaned_data["round"],
                },
                operation=operation,
                by=request.user,
            )
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            imports.submit(job)
            messages.success(request, _("The file is kept and the import is queued."))
            return redirect("core:import_detail", job_id=job.pk)
    return render(request, "tracking/profile_import.html", {"profile": profile, "form": form})


def template_download(request, filename="template_assessments.csv"):
    """The project's own import template (CSV), or its column documentation."""
    return FileResponse(
        (DATA_DIR / filename).open("rb"),
        as_attachment=True,
        filename=f"mobility_{filename}",
        content_type="text/csv",
    )


urlpatterns = [
    path("profiles/", profile_list, name="profiles"),
    path("profiles/new/", profile_new, name="profile_new"),
    path("profiles/<slug:name>/", profile_detail, name="profile_detail"),
    path("profiles/<slug:name>/import/", profile_import, name="profile_import"),
    path("template.csv", template_download, name="template"),
    path(
        "template-columns.csv",
        template_download,
        {"filename": "template_columns.csv"},
        name="template_columns",
    ),
]

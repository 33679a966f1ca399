"""Pages for operations, rounds and import jobs. Thin: reads via selectors, writes via services."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from . import imports, services
from .models import ImportJob, Operation, Round
from .permissions import Action, can, operations_for
from .selectors import import_job_list, round_list
from .selectors import operation_list as selectors_operation_list

JOBS_PER_PAGE = 50
ROW_ERRORS_SHOWN = 200


# --- operations and rounds ---------------------------------------------------------------------


def operation_list(request):
    operations = selectors_operation_list(user=request.user)
    rows = [{"operation": op, "member": can(request.user, Action.VIEW, op)} for op in operations]
    return render(request, "core/operation_list.html", {"rows": rows})


def operation_detail(request, slug):
    operation = get_object_or_404(selectors_operation_list(user=request.user), slug=slug)
    may_publish = can(request.user, Action.PUBLISH, operation)
    rounds = [
        {
            "round": r,
            # Publishing has its own page (the disclosure check), so it is not a plain move here.
            "next_states": [
                (s, Round.Status(s).label) for s in r.next_states() if s != Round.Status.PUBLISHED
            ]
            if may_publish
            else [],
        }
        for r in round_list(operation=operation, user=request.user)
    ]
    return render(
        request,
        "core/operation_detail.html",
        {
            "operation": operation,
            "rounds": rounds,
            "may_publish": may_publish,
            "member": can(request.user, Action.VIEW, operation),
        },
    )


def _round_for_publisher(request, slug, round_id) -> tuple[Operation, Round]:
    if not request.user.is_authenticated:
        raise PermissionDenied
    operation = get_object_or_404(Operation, slug=slug)
    if not can(request.user, Action.PUBLISH, operation):
        raise PermissionDenied
    return operation, get_object_or_404(Round, pk=round_id, operation=operation)


@require_POST
def round_advance(request, slug, round_id):
    operation, round_ = _round_for_publisher(request, slug, round_id)
    to = request.POST.get("to", "")
    try:
        services.round_advance_request(round=round_, to=to, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Round %(number)s is now %(status)s.")
            % {"number": round_.number, "status": Round.Status(to).label},
        )
    return redirect("core:operation_detail", slug=operation.slug)


@require_POST
def round_correct(request, slug, round_id):
    operation, round_ = _round_for_publisher(request, slug, round_id)
    reason = request.POST.get("reason", "").strip()
    if not reason:
        messages.error(request, _("Say why the round needs a correction."))
        return redirect("core:operation_detail", slug=operation.slug)
    try:
        correction = services.round_correct(round=round_, reason=reason, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Correction opened: round %(number)s version %(version)s is validating.")
            % {"number": correction.number, "version": correction.version},
        )
    return redirect("core:operation_detail", slug=operation.slug)


# --- import jobs -------------------------------------------------------------------------------


class ImportUploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("File"), help_text=gettext_lazy("CSV, XLSX or GeoJSON."))
    kind = forms.ChoiceField(label=gettext_lazy("What the file holds"))
    operation = forms.ChoiceField(label=gettext_lazy("Operation"), required=False)
    country = forms.CharField(
        label=gettext_lazy("Country (ISO3)"),
        required=False,
        max_length=3,
        help_text=gettext_lazy("e.g. MOZ; guessed from the file when left empty."),
    )
    edition = forms.CharField(
        label=gettext_lazy("Edition"),
        required=False,
        max_length=100,
        help_text=gettext_lazy("For a gazetteer: the COD edition, e.g. 2019."),
    )
    valid_from = forms.DateField(
        label=gettext_lazy("Valid from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("For a gazetteer: the date the edition starts to apply."),
    )
    round = forms.IntegerField(
        label=gettext_lazy("Round"),
        required=False,
        min_value=1,
        help_text=gettext_lazy("For tracking data: the number of the round the file reports."),
    )
    source_profile = forms.SlugField(
        label=gettext_lazy("Source profile"),
        required=False,
        max_length=100,
        help_text=gettext_lazy(
            "For a file read through a saved source profile (e.g. somalia-fmp-2016 for flows): its name."
        ),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["kind"].choices = list(imports.registered_kinds().items())
        choices = []
        if can(user, Action.IMPORT, None):
            choices.append(("", _("None (shared data such as the gazetteer)")))
        self.operations = {str(op.pk): op for op in operations_for(user, Action.IMPORT).order_by("name")}
        choices += [(pk, op.name) for pk, op in self.operations.items()]
        self.fields["operation"].choices = choices

    def clean_country(self):
        country = self.cleaned_data["country"].strip().upper()
        if country and (len(country) != 3 or not country.isalpha()):
            raise ValidationError(_("An ISO3 country code is three letters, e.g. MOZ."))
        return country

    def clean(self):
        data = super().clean()
        operation = self.operations.get(data.get("operation") or "")
        if not can(self.user, Action.IMPORT, operation):
            raise ValidationError(_("You may not import files into this operation."))
        data["operation_obj"] = operation
        return data

    def profile(self) -> dict:
        fields = ("country", "edition", "valid_from", "round", "source_profile")
        return imports.upload_profile(**{key: self.cleaned_data.get(key) for key in fields})


def _may_upload(user) -> bool:
    return can(user, Action.IMPORT, None) or operations_for(user, Action.IMPORT).exists()


@login_required
def import_list(request):
    may_upload = _may_upload(request.user)
    form = None
    if request.method == "POST":
        if not may_upload:
            raise PermissionDenied
        form = ImportUploadForm(request.POST, request.FILES, user=request.user)
        refused = getattr(request, "upload_refused", None)
        if refused:
            form.is_valid()
            form.add_error("file", refused)
        elif form.is_valid():
            try:
                job = imports.job_create(
                    kind=form.cleaned_data["kind"],
                    source=form.cleaned_data["file"],
                    original_name=form.cleaned_data["file"].name,
                    profile=form.profile(),
                    operation=form.cleaned_data["operation_obj"],
                    by=request.user,
                )
            except ValidationError as exc:
                form.add_error("file", exc)
            else:
                imports.submit(job)
                messages.success(request, _("The file is kept and the import is queued."))
                return redirect("core:import_detail", job_id=job.pk)
    elif request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    if form is None and may_upload:
        form = ImportUploadForm(user=request.user, initial={"kind": request.GET.get("kind", "")})
    page = Paginator(import_job_list(user=request.user), JOBS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "core/import_list.html", {"form": form, "page": page, "may_upload": may_upload})


def _job_for(request, job_id) -> ImportJob:
    return get_object_or_404(import_job_list(user=request.user), pk=job_id)


def _progress_context(job: ImportJob, user) -> dict:
    # Row errors quote cell values, which may be personal (a submission's answers, a registration):
    # only those who may import into the operation see them; others see the counts.
    may_see_rows = can(user, Action.IMPORT, job.operation)
    errors = list(job.row_errors.all()[:ROW_ERRORS_SHOWN]) if may_see_rows else []
    return {
        "job": job,
        "may_see_rows": may_see_rows,
        # A failed job runs again on the same kept file, e.g. after names were resolved in the review list.
        "may_rerun": job.status == ImportJob.Status.FAILED and can(user, Action.IMPORT, job.operation),
        "row_errors": errors,
        "row_errors_total": job.row_errors.count() if len(errors) >= ROW_ERRORS_SHOWN else len(errors),
        "phase": (job.summary or {}).get("phase", ""),
        "summary_items": [
            (key, value)
            for key, value in (job.summary or {}).items()
            if key not in {"phase", "warnings"} and isinstance(value, str | int | float)
        ],
        "warnings": (job.summary or {}).get("warnings", []),
    }


@login_required
def import_detail(request, job_id):
    job = _job_for(request, job_id)
    return render(request, "core/import_detail.html", _progress_context(job, request.user))


@login_required
def import_progress(request, job_id):
    """The status, progress bar, counts and row errors of a job; htmx polls it until the job ends."""
    job = _job_for(request, job_id)
    return render(request, "core/_import_progress.html", _progress_context(job, request.user))


@login_required
@require_POST
def import_rerun(request, job_id):
    """Run a failed job again on its kept file."""
    job = _job_for(request, job_id)
    if not can(request.user, Action.IMPORT, job.operation):
        raise PermissionDenied
    if job.status != ImportJob.Status.FAILED:
        messages.error(request, _("Only a failed import can run again."))
    else:
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED, error="")
        imports.submit(job)
        messages.success(request, _("The import runs again on the same file."))
    return redirect("core:import_detail", job_id=job.pk)

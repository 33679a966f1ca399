"""Registration pages: the operation's registry, the household list and search, register, read, correct.

Who sees what:

- anonymous users are sent to the login page; users who are not members of the operation get a 404
  (the registry of an operation they do not belong to does not exist for them);
- members see the registry home: non-personal counts only (statuses, sex, districts, the queue size);
- personal pages need a registration grant (``access.require``; a refusal is a 403 page and a
  DENIED line in the access log): the household list and a household's page need ``view``,
  registering needs ``register``, correcting needs ``register`` and ``view``;
- every page that shows personal values writes one access-log line (who, which records, why).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from mobility.core.models import Operation
from mobility.core.permissions import Action, can, operations_for
from mobility.gazetteer.models import Location

from . import access, selectors
from .forms import (
    NEED_LABELS,
    REFERENCE_CHARACTERS,
    REFERENCE_TAKEN,
    SCOPE_LABELS,
    WG_LABELS,
    HouseholdFilterForm,
    HouseholdForm,
    MemberFormSet,
    errors_attach,
    household_initial,
    member_initial,
    registration_batch,
)
from .models import AccessLog, Capability, Household, Individual, Purpose, Relationship
from .services import BatchInvalid, households_write

HOUSEHOLDS_PER_PAGE = 50
NEW_MEMBER_ROWS = 3
# A template the assistance pages may provide: it is included on a household's page when it exists
# (context: operation, household, capabilities). See docs/registration.md, "Registering a household".
ASSISTANCE_PANEL = "registration/assistance_household_panel.html"
MATCHING_FAILED = gettext_lazy(
    "The household is registered, but looking for duplicates of it failed; the next matching run will."
)
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
logger = logging.getLogger(__name__)


# ---------------------------------------------------------------- helpers shared with views_review


def operation_for(request, slug: str, capability: Capability | None = None) -> Operation:
    """The operation if the user is a member (404 otherwise); with a capability, require the grant."""
    operation = get_object_or_404(Operation, slug=slug)
    if not can(request.user, Action.VIEW, operation):
        if capability is not None:
            access.log_access(
                user=request.user,
                operation=operation,
                action=AccessLog.Action.DENIED,
                purpose=access._purpose_for(capability),
                object_type="registration.operation",
                object_ids=[operation.pk],
                detail={"capability": str(capability), "reason": "not a member"},
            )
        raise Http404(_("No registry of this operation is open to you."))
    if capability is not None:
        access.require(request.user, operation, capability)
    return operation


def denied(request, exc: PermissionDenied, operation: Operation | None = None):
    """The 403 page: which access is missing and who can give it (the refusal is already logged)."""
    return render(
        request, "registration/pages_denied.html", {"operation": operation, "reason": str(exc)}, status=403
    )


def _guarded(capabilities: tuple[Capability, ...]):
    """Run the view with the operation, after login, membership and every capability are checked."""

    def decorate(view):
        @login_required
        def wrapped(request, slug, *args, **kwargs):
            try:
                operation = operation_for(request, slug, capabilities[0] if capabilities else None)
                for capability in capabilities[1:]:
                    access.require(request.user, operation, capability)
            except PermissionDenied as exc:
                return denied(request, exc, get_object_or_404(Operation, slug=slug))
            return view(request, operation, *args, **kwargs)

        wrapped.__name__ = view.__name__
        wrapped.__doc__ = view.__doc__
        return wrapped

    return decorate


def url_or_none(name: str, **kwargs) -> str | None:
    """A URL of another helper's page, or None while that page does not exist yet."""
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return None


def _template_exists(name: str) -> bool:
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return False
    return True


def _sites(operation: Operation):
    return list(Location.objects.filter(operation=operation, type=Location.Type.SITE).order_by("name"))


def _household(operation: Operation, reference: str) -> Household:
    return get_object_or_404(
        Household.objects.select_related("site"), operation=operation, reference=reference
    )


def _age(date_of_birth: str, today: dt.date) -> int | None:
    try:
        born = dt.date.fromisoformat(date_of_birth)
    except (TypeError, ValueError):
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _caps(request, operation) -> frozenset[str]:
    return access.capabilities_of(request.user, operation)


# ---------------------------------------------------------------- pages


@login_required
@require_GET
def index(request):
    """The registries the user belongs to; straight to the only one."""
    operations = list(operations_for(request.user).order_by("name"))
    if len(operations) == 1:
        return redirect("registration:home", slug=operations[0].slug)
    rows = [
        {
            "operation": op,
            "capabilities": sorted(access.capabilities_of(request.user, op)),
            "households": Household.objects.filter(
                operation=op, status__in=selectors.COUNTED_STATUSES
            ).count(),
        }
        for op in operations
    ]
    return render(request, "registration/pages_index.html", {"rows": rows})


@login_required
@require_GET
def home(request, slug: str):
    """The registry of an operation: counts by status, sex and district, the review queue, links."""
    operation = operation_for(request, slug)
    caps = _caps(request, operation)
    return render(
        request,
        "registration/pages_home.html",
        {
            "operation": operation,
            "caps": caps,
            "counts": selectors.registry_counts(operation=operation),
            "links": {
                "distributions": url_or_none("registration:distributions", slug=operation.slug),
                "verification": url_or_none("registration:verification_rounds", slug=operation.slug),
                "access_log": url_or_none("registration:protect_access_log", slug=operation.slug),
            },
        },
    )


@_guarded((Capability.VIEW,))
@require_http_methods(["GET", "POST"])
def household_list(request, operation: Operation):
    """Households with search (reference, or exact phone / document number / full name) and filters.

    The search text is read from a POST only: in a GET it would sit in the URL, and so in the access
    logs of every proxy in front of Mobility. Filters (status, site, district) may be in the URL.
    """
    sites = _sites(operation)
    admin2_codes = (
        Household.objects.filter(operation=operation)
        .exclude(admin2_pcode="")
        .values_list("admin2_pcode", flat=True)
        .distinct()
        .order_by("admin2_pcode")
    )
    data = request.POST if request.method == "POST" else request.GET.copy()
    if request.method != "POST":
        data.pop("q", None)
    form = HouseholdFilterForm(data or None, sites=sites, admin2_codes=list(admin2_codes))
    filters = form.filters() if data else selectors.HouseholdFilter()
    result = selectors.household_search(operation=operation, filters=filters)
    page = Paginator(result.households, HOUSEHOLDS_PER_PAGE).get_page(request.GET.get("page"))
    rows = selectors.household_rows(list(page.object_list))
    ids = [row["household"].pk for row in rows]
    if filters.query:
        access.log_access(
            user=request.user,
            operation=operation,
            action=AccessLog.Action.SEARCH,
            purpose=Purpose.REGISTRATION,
            object_type="registration.household",
            object_ids=ids,
            detail={"matched_by": result.matched_by, "found": page.paginator.count},
        )
    elif ids:
        access.log_access(
            user=request.user,
            operation=operation,
            action=AccessLog.Action.VIEW,
            purpose=Purpose.REGISTRATION,
            object_type="registration.household",
            object_ids=ids,
            detail={"page": page.number},
        )
    return render(
        request,
        "registration/pages_household_list.html",
        {
            "operation": operation,
            "caps": _caps(request, operation),
            "form": form,
            "filters": filters,
            "page": page,
            "rows": rows,
        },
    )


def _new_reference(operation: Operation) -> str:
    while True:
        reference = f"HH-{timezone.localdate():%y%m%d}-{secrets.token_hex(3).upper()}"
        if not Household.objects.filter(operation=operation, reference=reference).exists():
            return reference


def _member_references(operation: Operation, reference: str):
    """Member references for new rows: <household>-<n>, skipping any taken in the operation."""
    taken = set(
        Individual.objects.filter(operation=operation, reference__startswith=f"{reference}-").values_list(
            "reference", flat=True
        )
    )
    given: dict[int, str] = {}

    def member_reference(index: int) -> str:
        if index not in given:
            n = len(taken) + 1
            while f"{reference}-{n}" in taken:
                n += 1
            given[index] = f"{reference}-{n}"
            taken.add(given[index])
        return given[index]

    return member_reference


def _register(request, operation: Operation, household: Household | None):
    """The form of a new household or of a correction: the same forms, the same checks."""
    sites = _sites(operation)
    fixed = household.reference if household else None
    if request.method == "POST":
        household_form = HouseholdForm(request.POST, sites=sites, fixed_reference=fixed,
                                       initial=household_initial(household) if household else None)  # fmt: skip
        members = MemberFormSet(request.POST, prefix="member")
        adding = request.POST.get("action") == "add_member"
        if household_form.is_valid() and members.is_valid() and not adding:
            saved = _save(request, operation, household, household_form, members)
            if saved is not None:
                return saved
        elif adding:  # without JavaScript: the same page with one more empty member row
            data = request.POST.copy()
            data["member-TOTAL_FORMS"] = str(int(data.get("member-TOTAL_FORMS", "0")) + 1)
            members = MemberFormSet(data, prefix="member")
            members.is_valid()
    elif household is not None:
        household_form = HouseholdForm(
            initial=household_initial(household), sites=sites, fixed_reference=fixed
        )
        people = list(household.members.filter(merged_into__isnull=True).prefetch_related("documents"))
        members = MemberFormSet(initial=[*(member_initial(p) for p in people), {}], prefix="member")
        access.log_access(
            user=request.user,
            operation=operation,
            action=AccessLog.Action.VIEW,
            purpose=Purpose.CORRECTION,
            obj=household,
        )
    else:
        household_form = HouseholdForm(
            sites=sites, initial={"registered_on": timezone.localdate().isoformat(), "consent_scope": []}
        )
        members = MemberFormSet(
            initial=[{"relationship": Relationship.HEAD}] + [{}] * (NEW_MEMBER_ROWS - 1), prefix="member"
        )
    problems = _problems(household_form, members) if request.method == "POST" else []
    return render(
        request,
        "registration/pages_household_form.html",
        {
            "operation": operation,
            "household": household,
            "household_form": household_form,
            "members": members,
            "problems": problems,
            "country": operation.country_iso3,
        },
    )


def _problems(household_form, members) -> list[str]:
    """Every error of the page in one list, "where: what" (the messages never quote a personal value)."""
    problems = []
    for name, errors in household_form.errors.items():
        label = household_form.fields[name].label if name in household_form.fields else ""
        problems += [f"{label}: {e}" if label else str(e) for e in errors]
    for number, form in enumerate(members.forms, start=1):
        where = _("Member %(n)s") % {"n": number}
        for name, errors in form.errors.items():
            label = form.fields[name].label if name in form.fields and name != "individual_id" else ""
            problems += [f"{where} · {label}: {e}" if label else f"{where}: {e}" for e in errors]
    return problems


def _save(request, operation, household, household_form, members):
    """Write the household through the one write path; None when there are errors to show."""
    today = timezone.localdate()
    if household is None:
        typed = household_form.cleaned_data.get("household_id", "").strip()
        if typed and not _REFERENCE.match(typed):
            household_form.add_error("household_id", str(REFERENCE_CHARACTERS))
            return None
        if typed and Household.objects.filter(operation=operation, reference=typed).exists():
            household_form.add_error("household_id", str(REFERENCE_TAKEN.format(reference=typed)))
            return None
        reference = typed or _new_reference(operation)
    else:
        reference = household.reference
    item, errors = registration_batch(
        household_form,
        members,
        reference=reference,
        member_reference=_member_references(operation, reference),
        today=today,
    )
    if not errors:
        try:
            counts = households_write(
                operation=operation, items=[item], by=request.user, source=Household.Source.WEB, today=today
            )
        except BatchInvalid as exc:
            errors = exc.errors
    if errors:
        errors_attach(errors, household_form, members)
        return None
    saved = Household.objects.get(operation=operation, reference=reference)
    access.log_access(
        user=request.user,
        operation=operation,
        action=AccessLog.Action.EDIT,
        purpose=Purpose.CORRECTION if household else Purpose.REGISTRATION,
        obj=saved,
        detail={"individuals_created": counts.individuals_created},
    )
    if not _dedup_new(operation, counts.new_individual_ids or []):
        messages.warning(request, MATCHING_FAILED)
    if household is None:
        messages.success(
            request,
            _("Household %(reference)s registered with %(n)s people.")
            % {"reference": reference, "n": len(item.members)},
        )
    else:
        messages.success(request, _("Household %(reference)s corrected.") % {"reference": reference})
    if Capability.VIEW in _caps(request, operation):
        return redirect("registration:household", slug=operation.slug, reference=reference)
    return redirect("registration:household_new", slug=operation.slug)


def _dedup_new(operation: Operation, individual_ids: list[int]) -> bool:
    """Hand the new people to the incremental matching (after the commit: in the request when
    SYNC_JOBS, else a background job); False when handing them over failed."""
    if not individual_ids:
        return True
    try:
        from .dedup_app import after_households_written
    except ImportError:  # the matching is not part of this installation
        return True
    try:
        after_households_written(operation, individual_ids)
    except Exception as exc:  # the household is saved: say so rather than fail the page
        logger.warning("incremental matching failed after a web registration: %s", type(exc).__name__)
        return False
    return True


@_guarded((Capability.REGISTER,))
@require_http_methods(["GET", "POST"])
def household_new(request, operation: Operation):
    """Register a household: the household's facts and its members (head first)."""
    return _register(request, operation, None)


@_guarded((Capability.REGISTER, Capability.VIEW))
@require_http_methods(["GET", "POST"])
def household_edit(request, operation: Operation, reference: str):
    """Correct a household and its members, or add a member."""
    return _register(request, operation, _household(operation, reference))


@_guarded((Capability.VIEW,))
@require_GET
def household_detail(request, operation: Operation, reference: str):
    """One household: members, documents, merges, verification history, assistance received."""
    household = _household(operation, reference)
    caps = _caps(request, operation)
    people = list(
        household.members.select_related("merged_into__household", "cluster").prefetch_related("documents")
    )
    access.log_access(
        user=request.user,
        operation=operation,
        action=AccessLog.Action.VIEW,
        purpose=Purpose.REGISTRATION,
        obj=household,
        detail={"individuals": len(people)},
    )
    today = timezone.localdate()
    for person in people:
        person.age = _age(person.date_of_birth, today)
        person.disability_text = ", ".join(
            f"{WG_LABELS.get(domain, domain)}: {answer}"
            for domain, answer in sorted((person.disability or {}).items())
        )
    ids = [p.pk for p in people]
    absorbed = list(
        Individual.objects.filter(merged_into_id__in=ids)
        .exclude(household=household)
        .select_related("household")
        .order_by("reference")
    )
    return render(
        request,
        "registration/pages_household_detail.html",
        {
            "operation": operation,
            "household": household,
            "caps": caps,
            "people": people,
            "absorbed": absorbed,
            "specific_needs": [NEED_LABELS.get(n, n) for n in household.specific_needs or []],
            "consent_scope": [SCOPE_LABELS.get(s, s) for s in household.consent_scope or []],
            "merges": list(selectors.household_merges(household=household)),
            "verifications": list(
                household.verifications.select_related("round").order_by("-verified_on", "-pk")
            ),
            "distributions": list(household.distributions.select_related("item", "site")),
            "distribute_url": url_or_none(
                "registration:household_distribute", slug=operation.slug, reference=household.reference
            ),
            "assistance_panel": ASSISTANCE_PANEL if _template_exists(ASSISTANCE_PANEL) else None,
        },
    )


urlpatterns = [
    path("", index, name="index"),
    path("<slug:slug>/", home, name="home"),
    path("<slug:slug>/households/", household_list, name="households"),
    path("<slug:slug>/households/new/", household_new, name="household_new"),
    path("<slug:slug>/households/<str:reference>/", household_detail, name="household"),
    path("<slug:slug>/households/<str:reference>/edit/", household_edit, name="household_edit"),
]

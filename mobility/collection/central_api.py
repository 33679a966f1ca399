"""The slice of the ODK Central API (v1) that analysts' scripts use, so pyodk / ruODK work against Mobility.

A Central *project* is an operation the user may view; a *form* is a published collection form; its
OData ``Submissions`` are the current versions of its submissions (an edit shows in place of the
instance it replaced, under the first instance's id, as Central does). Shapes follow Central:
problem JSON ``{"message", "code"}`` for errors, ``__id`` / ``__system`` on every row, groups as
nested objects, repeats as ``<name>@odata.navigationLink`` and separate ``Submissions.<repeat>``
tables, integers and decimals as JSON numbers, geopoints as GeoJSON. Personal fields are left out
(values and schema alike) unless ``selectors.personal_allowed``. An operation the user may not
view answers exactly as one that does not exist (404).

Authentication: ``POST /v1/sessions`` gives a bearer token (only its SHA-256 is stored), HTTP Basic
with username or e-mail, or the web session for reads.

This module holds authentication and the views; the OData itself (problems, schema, $metadata, rows,
$select) is in central_odata.py, the $filter parser in central_filter.py, session writes in
central_sessions.py.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, Max, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from mobility.core.models import Membership, Operation, Role
from mobility.core.permissions import Action, operations_for

from .central_odata import (
    AUTH_FAILED,
    HTTPS_ONLY,
    MISSING_PARAMETERS,
    NO_RIGHTS,
    NOT_ALLOWED,
    NOT_FOUND,
    UNPARSEABLE,
    Problem,
    Query,
    current_submissions,
    edmx,
    form_schema,
    iso,
    problem,
    quote_id,
    repeat_table,
    repeat_tables,
    resource_of,
    submission_rows,
    versions_of,
)
from .central_sessions import central_session_create, central_session_end, hash_token
from .models import Binding, CentralSession, Form, Submission
from .selectors import personal_allowed


def submissions_guard(user, form, *, export: bool) -> None:
    from mobility.registration.forms_binding import submissions_guard as guard

    guard(user, form, export=export)


log = logging.getLogger(__name__)


# ---------------------------------------------------------------- authentication


def check_password(request: HttpRequest, login: str, password: str):
    """The active user with this username (or unique e-mail) and password, else None."""
    user_model = get_user_model()
    username = login
    if "@" in login and not user_model.objects.filter(**{user_model.USERNAME_FIELD: login}).exists():
        matches = list(
            user_model.objects.filter(email__iexact=login).values_list(user_model.USERNAME_FIELD, flat=True)[
                :2
            ]
        )
        if len(matches) == 1:
            username = matches[0]
    return authenticate(request, username=username, password=password)


def _bearer_session(token: str) -> CentralSession | None:
    return (
        CentralSession.objects.select_related("user")
        .filter(token_hash=hash_token(token), expires_at__gt=timezone.now(), user__is_active=True)
        .first()
    )


def _authenticate(request: HttpRequest):
    """(user, session) from a bearer token, HTTP Basic, or the web session (reads only)."""
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        session = _bearer_session(value) if value else None
        if session is None:
            raise problem(AUTH_FAILED)
        return session.user, session
    if scheme.lower() == "basic":
        if settings.PRODUCTION and not request.is_secure():
            raise problem(HTTPS_ONLY)
        try:
            login, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise problem(AUTH_FAILED) from None
        user = check_password(request, login, password) if login and password else None
        if user is None:
            raise problem(AUTH_FAILED)
        return user, None
    if scheme:
        raise problem(AUTH_FAILED)
    web_user = getattr(request, "user", None)
    if request.method in ("GET", "HEAD") and web_user is not None and web_user.is_authenticated:
        return web_user, None
    return None, None


def central_endpoint(*methods: str, login_required: bool = True):
    """A Central endpoint: allowed methods, authentication, problems answered as Central's JSON."""

    def wrap(view):
        @csrf_exempt
        @functools.wraps(view)
        def inner(request: HttpRequest, *args, **kwargs):
            try:
                if request.method not in methods:
                    raise problem(NOT_ALLOWED, method=request.method)
                request.central_user, request.central_session = (
                    _authenticate(request) if login_required else (None, None)
                )
                if login_required and request.central_user is None:
                    raise problem(NO_RIGHTS)
                return view(request, *args, **kwargs)
            except Problem as exc:
                return exc.response()

        return inner

    return wrap


# ---------------------------------------------------------------- projects and forms


def _count_of(queryset, outer: str):
    """A correlated COUNT (no join fan-out when several counts sit on one row)."""
    counted = queryset.order_by().values(outer).annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(counted), Value(0))


def projects_for(user):
    """Operations the user may view, with their published forms, app users and last submission."""
    last = Submission.objects.filter(form__operation=OuterRef("pk")).order_by("-submitted_at")
    return (
        operations_for(user, Action.VIEW)
        .annotate(
            odata_forms=_count_of(
                Form.objects.filter(operation=OuterRef("pk"), current_version__isnull=False), "operation"
            ),
            odata_app_users=_count_of(
                Membership.objects.filter(operation=OuterRef("pk"), role=Role.ENUMERATOR), "operation"
            ),
            odata_last=Subquery(last.values("submitted_at")[:1]),
        )
        .order_by("name", "pk")
    )


def project_for(user, project_id: int | str) -> Operation:
    """The operation, or 404 whether it does not exist or the user may not view it."""
    project_id = int(project_id)  # the OData and .xml addresses are regular expressions: digits, as text
    operation = projects_for(user).filter(pk=project_id).first() if 0 < project_id < 2**63 else None
    if operation is None:
        raise problem(NOT_FOUND)
    return operation


def forms_of(operation: Operation):
    return (
        Form.objects.filter(operation=operation, current_version__isnull=False)
        .select_related("current_version")
        .annotate(
            odata_submissions=Count("submissions", filter=Q(submissions__superseded_by__isnull=True)),
            odata_last=Max("submissions__submitted_at"),
            # Read by the registration guard of the OData rows (no query of its own).
            registration_bound=Exists(
                Binding.objects.filter(form=OuterRef("pk"), target=Binding.Target.REGISTRATION)
            ),
        )
        .order_by("title", "xml_form_id")
    )


def form_for(user, project_id: int, xml_form_id: str) -> Form:
    operation = project_for(user, project_id)
    form = forms_of(operation).filter(xml_form_id=xml_form_id).first()
    if form is None:
        raise problem(NOT_FOUND)
    form.operation = operation
    return form


def project_json(operation: Operation) -> dict:
    return {
        "id": operation.pk,
        "name": operation.name,
        "description": operation.description or None,
        "archived": operation.status == Operation.Status.INACTIVE,
        "keyId": None,
        "createdAt": iso(operation.created_at),
        "updatedAt": iso(operation.updated_at),
        "deletedAt": None,
        "forms": operation.odata_forms,
        "lastSubmission": iso(operation.odata_last),
        "appUsers": operation.odata_app_users,
        "datasets": 0,
    }


def form_json(form: Form) -> dict:
    version = form.current_version
    return {
        "projectId": form.operation_id,
        "xmlFormId": form.xml_form_id,
        "name": form.title or None,
        "version": version.version,
        "hash": version.xml_md5,
        "state": form.state,
        "enketoId": None,
        "enketoOnceId": None,
        "keyId": None,
        "createdAt": iso(form.created_at),
        "updatedAt": iso(form.updated_at),
        "publishedAt": iso(version.created_at),
        "submissions": form.odata_submissions,
        "lastSubmission": iso(form.odata_last),
    }


def user_json(user) -> dict:
    return {
        "id": user.pk,
        "type": "user",
        "displayName": user.get_full_name() or user.get_username(),
        "email": user.email or user.get_username(),
        "createdAt": iso(user.date_joined),
        "updatedAt": None,
        "deletedAt": None,
    }


# ---------------------------------------------------------------- views


def _json_body(request: HttpRequest) -> dict:
    if request.content_type == "application/x-www-form-urlencoded":
        return request.POST.dict()
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise problem(UNPARSEABLE, length=len(request.body)) from None
    if not isinstance(body, dict):
        raise problem(UNPARSEABLE, length=len(request.body))
    return body


@central_endpoint("POST", login_required=False)
def sessions(request: HttpRequest):
    """POST /v1/sessions {email, password} → a bearer token for 24 hours."""
    body = _json_body(request)
    login, password = body.get("email") or body.get("username"), body.get("password")
    if not isinstance(login, str) or not isinstance(password, str) or not login.strip() or not password:
        raise problem(MISSING_PARAMETERS)
    user = check_password(request, login.strip(), password)
    if user is None:
        raise problem(AUTH_FAILED)
    session, token = central_session_create(user=user)
    return JsonResponse(
        {
            "createdAt": iso(session.created_at),
            "expiresAt": iso(session.expires_at),
            "token": token,
            "csrf": session.csrf,
        }
    )


@central_endpoint("DELETE")
def session_end(request: HttpRequest, token: str):
    """DELETE /v1/sessions/{token} (or /current): log out. Another user's or unknown token → 403."""
    if token == "current":  # noqa: S105 - the name Central gives the session in use
        session = request.central_session
    else:
        session = _bearer_session(token)
        if session is not None and session.user_id != request.central_user.pk:
            session = None
    if session is None:
        raise problem(NO_RIGHTS)
    central_session_end(session=session)
    return JsonResponse({"success": True})


@central_endpoint("GET")
def current_user(request: HttpRequest):
    return JsonResponse(user_json(request.central_user))


@central_endpoint("GET")
def project_list(request: HttpRequest):
    return JsonResponse([project_json(p) for p in projects_for(request.central_user)], safe=False)


@central_endpoint("GET")
def project_detail(request: HttpRequest, project_id: int):
    return JsonResponse(project_json(project_for(request.central_user, project_id)))


@central_endpoint("GET")
def form_list(request: HttpRequest, project_id: int):
    operation = project_for(request.central_user, project_id)
    return JsonResponse([form_json(form) for form in forms_of(operation)], safe=False)


@central_endpoint("GET")
def form_detail(request: HttpRequest, project_id: int, xml_form_id: str):
    return JsonResponse(form_json(form_for(request.central_user, project_id, xml_form_id)))


@central_endpoint("GET")
def form_xml(request: HttpRequest, project_id: int, xml_form_id: str):
    form = form_for(request.central_user, project_id, xml_form_id)
    return HttpResponse(form.current_version.xml, content_type="application/xml; charset=utf-8")


def _odata(payload: dict) -> JsonResponse:
    response = JsonResponse(payload, json_dumps_params={"ensure_ascii": False})
    response["OData-Version"] = "4.0"
    return response


@central_endpoint("GET")
def odata(request: HttpRequest, project_id: int, xml_form_id: str, rest: str | None = None):
    """The form's OData service: service document, $metadata, Submissions and repeat tables."""
    user = request.central_user
    form = form_for(user, project_id, xml_form_id)
    nodes = form_schema(form, user)
    service = request.build_absolute_uri(f"/v1/projects/{project_id}/forms/{quote_id(xml_form_id)}.svc")
    rest = (rest or "").strip("/")
    if rest == "":
        tables = [".".join(("Submissions", *t)) for t in repeat_tables(nodes)]
        return _odata(
            {
                "@odata.context": f"{service}/$metadata",
                "value": [{"name": t, "kind": "EntitySet", "url": t} for t in ["Submissions", *tables]],
            }
        )
    if rest == "$metadata":
        return HttpResponse(edmx(form.xml_form_id, nodes), content_type="application/xml; charset=utf-8")
    instance, chain, keys = resource_of(rest, nodes)
    query = Query.of(request)
    submissions = current_submissions(form)
    if instance is not None:
        submissions = submissions.filter(root_id=instance)
        if not submissions.exists():
            raise problem(NOT_FOUND)
    if query.filter is not None:
        submissions = submissions.filter(query.filter)
    table = ".".join(["Submissions", *[n.key for n in chain]])
    payload = {"@odata.context": f"{service}/$metadata#{table}"}
    try:  # the submissions of registration forms are personal records: an export grant is needed
        submissions_guard(user, form, export=True)
    except PermissionDenied:
        raise problem(NO_RIGHTS) from None
    allowed = personal_allowed(user, form.operation)
    versions = versions_of(form)
    if not chain:
        rows, total = submission_rows(form, nodes, submissions, query, allowed, versions)
    else:
        rows, total = repeat_table(form, chain, keys, submissions, query, allowed, versions)
    payload["value"] = rows
    if query.end is not None and query.end < total:
        params = {k: v for k, v in request.GET.items() if k not in ("$skip", "$skiptoken")}
        params["$skip"] = str(query.end)
        payload["@odata.nextLink"] = f"{request.build_absolute_uri(request.path)}?{urlencode(params)}"
    if query.count:
        payload["@odata.count"] = total
    return _odata(payload)

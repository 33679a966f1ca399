"""The one permission check used by the API, the pages and the CLI."""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from .models import Membership, Operation, Role


class Action(StrEnum):
    VIEW = "view"  # read unpublished figures and job details of the operation
    SUBMIT = "submit"  # send form submissions
    IMPORT = "import"  # upload files, resolve review items
    PUBLISH = "publish"  # move rounds through their lifecycle, publish
    MANAGE = "manage"  # members, settings


ALLOWED: dict[Action, frozenset[str]] = {
    Action.VIEW: frozenset({Role.VIEWER, Role.ENUMERATOR, Role.DATA_MANAGER, Role.ADMIN}),
    Action.SUBMIT: frozenset({Role.ENUMERATOR, Role.DATA_MANAGER, Role.ADMIN}),
    Action.IMPORT: frozenset({Role.DATA_MANAGER, Role.ADMIN}),
    Action.PUBLISH: frozenset({Role.DATA_MANAGER, Role.ADMIN}),
    Action.MANAGE: frozenset({Role.ADMIN}),
}


def role_of(user, operation: Operation | None) -> str | None:
    """The user's role in the operation (superusers are admins everywhere)."""
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    if operation is None:
        return None
    cache = getattr(user, "_mobility_roles", None)
    if cache is None:
        cache = dict(Membership.objects.filter(user=user).values_list("operation_id", "role"))
        user._mobility_roles = cache
    return cache.get(operation.pk)


def can(user, action: Action | str, operation: Operation | None = None) -> bool:
    """May this user do this action in this operation? `operation=None` asks about global data."""
    action = Action(action)
    if user is not None and getattr(user, "is_authenticated", False) and user.is_active and user.is_superuser:
        return True
    if operation is None:
        # Global data (the gazetteer): any data manager or admin of some operation may import.
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return False
        roles = set(Membership.objects.filter(user=user).values_list("role", flat=True))
        return bool(roles & ALLOWED[action])
    role = role_of(user, operation)
    return role is not None and role in ALLOWED[action]


def operations_for(user, action: Action | str = Action.VIEW) -> QuerySet[Operation]:
    """The operations in which the user may do the action."""
    action = Action(action)
    if getattr(user, "is_authenticated", False) and user.is_active and user.is_superuser:
        return Operation.objects.all()
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Operation.objects.none()
    return Operation.objects.filter(memberships__user=user, memberships__role__in=ALLOWED[action]).distinct()

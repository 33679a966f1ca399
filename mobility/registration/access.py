"""Who may touch personal records, and the log of every time someone did.

Membership of an operation never opens personal records: a ``RegistrationGrant`` with the right
capability does (superusers too need one; an operation admin grants it, and the grant is audited).
Each capability is a purpose: data registered to deliver assistance is read for that purpose only.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from mobility.core.models import Operation
from mobility.core.permissions import Action, can
from mobility.core.services import audit_record

from .models import AccessLog, Capability, Purpose, RegistrationGrant

NO_GRANT = "You have no registration access in this operation for this purpose ({capability})."
GRANT_NEEDS_ADMIN = "Only an admin of the operation may grant or revoke registration access."
GRANT_NEEDS_MEMBER = "Registration access is granted to members of the operation only."
CAPABILITY_UNKNOWN = '"{value}" is not a registration capability; use one of: {allowed}'


def capabilities_of(user, operation: Operation | None) -> frozenset[str]:
    """The capabilities a user holds in the operation now (empty for anonymous users)."""
    if operation is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cache = getattr(user, "_registration_caps", None)
    if cache is None:
        now = timezone.now()
        grants = RegistrationGrant.objects.filter(user=user, revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        )
        cache = {g.operation_id: frozenset(g.capabilities) for g in grants}
        user._registration_caps = cache
    if not can(user, Action.VIEW, operation):  # a grant outlives a membership only on paper
        return frozenset()
    return cache.get(operation.pk, frozenset())


def personal_can(user, operation: Operation | None, capability: Capability | str) -> bool:
    return Capability(capability) in capabilities_of(user, operation)


def require(user, operation: Operation, capability: Capability | str) -> None:
    """Raise PermissionDenied (and log the refusal) unless the user holds the capability."""
    if not personal_can(user, operation, capability):
        if getattr(user, "is_authenticated", False):
            AccessLog.objects.create(
                user=user,
                operation=operation,
                action=AccessLog.Action.DENIED,
                purpose=_purpose_for(capability),
                object_type="registration.operation",
                object_id=str(operation.pk),
                detail={"capability": str(capability)},
            )
        raise PermissionDenied(NO_GRANT.format(capability=Capability(capability).value))


def _purpose_for(capability) -> str:
    return {
        Capability.REGISTER: Purpose.REGISTRATION,
        Capability.VIEW: Purpose.REGISTRATION,
        Capability.REVIEW: Purpose.DEDUPLICATION,
        Capability.VERIFY: Purpose.VERIFICATION,
        Capability.DISTRIBUTE: Purpose.ASSISTANCE,
        Capability.EXPORT: Purpose.EXPORT,
        Capability.ERASE: Purpose.ERASURE,
    }[Capability(capability)]


def log_access(
    *,
    user,
    operation: Operation,
    action: AccessLog.Action | str,
    purpose: Purpose | str,
    obj=None,
    object_type: str = "",
    object_ids: list | None = None,
    detail: dict | None = None,
) -> AccessLog:
    """One line per view/export/search of personal records: who, when, which records, why."""
    ids = [str(i) for i in (object_ids or [])]
    return AccessLog.objects.create(
        user=user if getattr(user, "pk", None) else None,
        operation=operation,
        action=action,
        purpose=purpose,
        object_type=object_type or (obj._meta.label_lower if obj is not None else ""),
        object_id=str(obj.pk) if obj is not None else (ids[0] if len(ids) == 1 else ""),
        records=len(ids) if ids else 1,
        detail={**(detail or {}), **({"ids": ids[:1000]} if len(ids) > 1 else {})},
    )


@transaction.atomic
def grant_set(
    *, operation: Operation, user, capabilities: list[str], by, expires_at=None
) -> RegistrationGrant:
    """Give (or change) a member's registration capabilities; an empty list revokes."""
    if not can(by, Action.MANAGE, operation):
        raise PermissionDenied(GRANT_NEEDS_ADMIN)
    if not user.is_superuser and not user.memberships.filter(operation=operation).exists():
        raise ValidationError(GRANT_NEEDS_MEMBER)
    allowed = [c.value for c in Capability]
    for value in capabilities:
        if value not in allowed:
            raise ValidationError(CAPABILITY_UNKNOWN.format(value=value, allowed=", ".join(allowed)))
    grant, _ = RegistrationGrant.objects.get_or_create(user=user, operation=operation)
    grant.capabilities = sorted(set(capabilities))
    grant.granted_by = by
    grant.expires_at = expires_at
    grant.revoked_at = None if capabilities else timezone.now()
    grant.full_clean(exclude=None if capabilities else ["capabilities"])  # empty = revoked
    grant.save()
    if hasattr(user, "_registration_caps"):
        del user._registration_caps
    audit_record(
        action="registration.grant" if capabilities else "registration.revoke",
        obj=grant,
        by=by,
        operation=operation,
        detail={"user": user.pk, "capabilities": grant.capabilities},
    )
    return grant

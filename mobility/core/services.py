"""Writes for operations, rounds, memberships, tokens and the audit log. Each runs in one transaction."""

from __future__ import annotations

import datetime as dt
import secrets

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .models import ApiToken, AuditEntry, Membership, Operation, Role, Round

ROUND_SKIPS_STATE = "Round {number} is {current}; it can only move to {allowed}."
ROUND_NOT_PUBLISHED = "Round {number} is {current}; only a published round can be corrected."
OPERATION_EXISTS = 'An operation named "{name}" already exists.'
ROUND_PUBLISH_THROUGH_RELEASE = (
    "Round {number} becomes public only through the disclosure check: use its Publish page or "
    "`mobility tracking publish --operation {operation} --round {number}`."
)


def audit_record(
    *, action: str, obj, by=None, operation: Operation | None = None, detail: dict | None = None
) -> AuditEntry:
    """Append one audit entry (ids and field names only, never personal values)."""
    if operation is None:
        operation = obj if isinstance(obj, Operation) else getattr(obj, "operation", None)
    return AuditEntry.objects.create(
        user=by if getattr(by, "pk", None) else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        operation=operation,
        detail=detail or {},
    )


@transaction.atomic
def operation_create(*, name: str, country_iso3: str, description: str = "", by=None) -> Operation:
    name = name.strip()
    if Operation.objects.filter(name=name).exists():
        raise ValidationError(OPERATION_EXISTS.format(name=name))
    operation = Operation(name=name, country_iso3=country_iso3.strip().upper(), description=description)
    operation.save()  # sets the slug before validation
    operation.full_clean()
    audit_record(action="operation.create", obj=operation, by=by)
    return operation


@transaction.atomic
def round_create(
    *, operation: Operation, number: int, start_date: dt.date, end_date: dt.date, name: str = "", by=None
) -> Round:
    round_ = Round(operation=operation, number=number, start_date=start_date, end_date=end_date, name=name)
    round_.full_clean()
    round_.save()
    audit_record(action="round.create", obj=round_, by=by)
    return round_


@transaction.atomic
def round_advance(*, round: Round, to: str, by=None) -> Round:  # noqa: A002 - the field's word
    """Move a round one step through planned → collecting → validating → published."""
    round_ = Round.objects.select_for_update().get(pk=round.pk)
    allowed = round_.next_states()
    if to not in allowed:
        raise ValidationError(
            ROUND_SKIPS_STATE.format(
                number=round_.number,
                current=round_.status,
                allowed=", ".join(allowed) or "nothing (it is final)",
            )
        )
    before = round_.status
    round_.status = to
    if to == Round.Status.PUBLISHED:
        round_.published_at = timezone.now()
        if round_.corrects_id:
            Round.objects.filter(pk=round_.corrects_id).update(status=Round.Status.SUPERSEDED)
    round_.full_clean()
    round_.save(update_fields=["status", "published_at", "updated_at"])
    audit_record(action="round.advance", obj=round_, by=by, detail={"from": before, "to": to})
    round.status, round.published_at = round_.status, round_.published_at
    return round_


def round_advance_request(*, round: Round, to: str, by=None) -> Round:  # noqa: A002
    """round_advance as users ask for it (pages, API, CLI): publishing goes through publishing.release_publish."""
    if to == Round.Status.PUBLISHED and to in round.next_states():
        raise ValidationError(
            ROUND_PUBLISH_THROUGH_RELEASE.format(number=round.number, operation=round.operation.slug)
        )
    return round_advance(round=round, to=to, by=by)


@transaction.atomic
def round_correct(*, round: Round, reason: str, by=None) -> Round:  # noqa: A002
    """Open a correction of a published round: a new version that replaces it once published."""
    round_ = Round.objects.select_for_update().get(pk=round.pk)
    if round_.status != Round.Status.PUBLISHED:
        raise ValidationError(ROUND_NOT_PUBLISHED.format(number=round_.number, current=round_.status))
    correction = Round(
        operation=round_.operation,
        number=round_.number,
        version=round_.version + 1,
        name=round_.name,
        start_date=round_.start_date,
        end_date=round_.end_date,
        status=Round.Status.VALIDATING,
        corrects=round_,
        correction_reason=reason,
    )
    correction.full_clean()
    correction.save()
    audit_record(action="round.correct", obj=correction, by=by, detail={"corrects": round_.pk})
    return correction


@transaction.atomic
def membership_set(*, user, operation: Operation, role: str, by=None) -> Membership:
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.")
    membership, _ = Membership.objects.update_or_create(
        user=user, operation=operation, defaults={"role": role}
    )
    membership.full_clean()
    audit_record(action="membership.set", obj=membership, by=by, operation=operation, detail={"role": role})
    return membership


@transaction.atomic
def user_create(*, username: str, password: str, email: str = "", is_superuser: bool = False, by=None):
    from django.contrib.auth.password_validation import validate_password

    User = get_user_model()
    user = User(username=username, email=email, is_superuser=is_superuser, is_staff=is_superuser)
    validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    user.save()
    audit_record(action="user.create", obj=user, by=by)
    return user


@transaction.atomic
def api_token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the plain key, which is never stored."""
    key = "mob_" + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, prefix=key[:12], key_hash=ApiToken.hash_key(key))
    token.full_clean()
    token.save()
    audit_record(action="api_token.create", obj=token, by=user)
    return token, key


@transaction.atomic
def api_token_revoke(*, token: ApiToken, by=None) -> ApiToken:
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_record(action="api_token.revoke", obj=token, by=by)
    return token

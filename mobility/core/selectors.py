"""Reads of operations, rounds and import jobs, always through the one permission check."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from .models import AuditEntry, ImportJob, Operation, Round
from .permissions import Action, can, operations_for


def operation_list(*, user) -> QuerySet[Operation]:
    """Operations the user may see: all active ones are listed publicly by name; members see theirs too."""
    visible = operations_for(user, Action.VIEW).values("pk")
    return Operation.objects.filter(Q(status=Operation.Status.ACTIVE) | Q(pk__in=visible)).order_by("name")


def round_list(*, operation: Operation, user=None) -> QuerySet[Round]:
    """Rounds of an operation: all versions for members, only published ones for everyone else."""
    qs = Round.objects.filter(operation=operation).order_by("-number", "-version")
    if user is not None and can(user, Action.VIEW, operation):
        return qs
    return qs.filter(status=Round.Status.PUBLISHED)


def import_job_list(*, user) -> QuerySet[ImportJob]:
    """Jobs the user may see: their own, those of operations they can view, all for superusers."""
    qs = ImportJob.objects.select_related("operation", "created_by")
    if getattr(user, "is_superuser", False):
        return qs
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    return qs.filter(Q(created_by=user) | Q(operation__in=operations_for(user, Action.VIEW)))


def audit_list(*, user, operation: Operation | None = None) -> QuerySet[AuditEntry]:
    qs = AuditEntry.objects.select_related("user", "operation")
    if operation is not None:
        qs = qs.filter(operation=operation)
    if getattr(user, "is_superuser", False):
        return qs
    return qs.filter(operation__in=operations_for(user, Action.MANAGE))

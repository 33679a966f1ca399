"""Operations, rounds, roles, the audit log, API tokens and import jobs: what every module stands on."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

iso3_validator = RegexValidator(r"^[A-Z]{3}$", _("An ISO3 country code is three capital letters, e.g. MOZ."))


class PopulationGroup(models.TextChoices):
    """The one enumeration of population groups used by every module (HAPI codes as values)."""

    IDP = "IDP", _("Internally displaced persons")
    RETURNEE_IDP = "RET-IDP", _("Returnees from internal displacement")
    RETURNEE_ABROAD = "RET-ABR", _("Returnees from abroad")
    MIGRANT = "MIG", _("Migrants")
    REFUGEE = "REF", _("Refugees and asylum seekers")
    HOST = "HOST", _("Host community")


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Operation(TimeStamped):
    """A country response, e.g. "Mozambique — Cabo Delgado"."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        INACTIVE = "inactive", _("Inactive")

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    country_iso3 = models.CharField(max_length=3, validators=[iso3_validator])
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # Age bands for sex-and-age disaggregation; empty means the default in settings.MOBILITY.
    age_bands = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = slugify(self.name)[:200] or f"operation-{self.country_iso3.lower()}"
        super().save(*args, **kwargs)


class Round(TimeStamped):
    """A numbered data collection period of an operation, with an enforced lifecycle.

    A published round is never edited in place: a correction creates a new version of the same
    round number (planned → … → published again) and the older version becomes superseded.
    """

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        COLLECTING = "collecting", _("Collecting")
        VALIDATING = "validating", _("Validating")
        PUBLISHED = "published", _("Published")
        SUPERSEDED = "superseded", _("Superseded by a correction")

    TRANSITIONS: dict[str, tuple[str, ...]] = {
        Status.PLANNED: (Status.COLLECTING,),
        Status.COLLECTING: (Status.VALIDATING,),
        Status.VALIDATING: (Status.PUBLISHED, Status.COLLECTING),
        Status.PUBLISHED: (),
        Status.SUPERSEDED: (),
    }

    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, related_name="rounds")
    # DTM numbers some assessments round 0 (before its first regular round), so 0 is allowed.
    number = models.PositiveIntegerField(validators=[MinValueValidator(0)])
    version = models.PositiveIntegerField(default=1)
    name = models.CharField(max_length=200, blank=True)
    start_date = models.DateField()
    end_date = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNED)
    published_at = models.DateTimeField(null=True, blank=True)
    corrects = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrected_by"
    )
    correction_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["operation", "-number", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["operation", "number", "version"], name="round_unique_version"),
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")), name="round_dates_ordered"
            ),
        ]

    def __str__(self) -> str:
        suffix = f" (v{self.version})" if self.version > 1 else ""
        return f"{self.operation} — round {self.number}{suffix}"

    def clean(self):
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": _("The round ends before it starts.")})

    def next_states(self) -> tuple[str, ...]:
        return self.TRANSITIONS[self.status]


class Role(models.TextChoices):
    VIEWER = "viewer", _("Viewer")
    ENUMERATOR = "enumerator", _("Enumerator")
    DATA_MANAGER = "data_manager", _("Data manager")
    ADMIN = "admin", _("Admin")


class Membership(TimeStamped):
    """A user's role in one operation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "operation"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} — {self.operation} ({self.role})"


class AuditEntry(models.Model):
    """Who changed what, and when. Holds object ids and field names, never personal values."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    operation = models.ForeignKey(Operation, null=True, blank=True, on_delete=models.SET_NULL)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.user} {self.action} {self.object_type}:{self.object_id}"


class ApiToken(models.Model):
    """A token for scripts. Only its SHA-256 is stored; the plain token is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()


class ImportJob(TimeStamped):
    """One file (or batch) being imported: the kept file, its profile, status, counts and row errors."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    kind = models.CharField(max_length=64, db_index=True)
    operation = models.ForeignKey(
        Operation, null=True, blank=True, on_delete=models.PROTECT, related_name="import_jobs"
    )
    file = models.FileField(upload_to="imports/%Y/%m/", max_length=500)
    original_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, db_index=True)
    size_bytes = models.BigIntegerField(default=0)
    profile = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    summary = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.original_name} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if self.is_finished:
            return 100
        return int(100 * self.rows_done / self.rows_total) if self.rows_total else 0


class ImportRowError(models.Model):
    """One problem with one cell or row: `row 14, column idp_individuals: "-3" is negative`."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    row = models.PositiveIntegerField(null=True, blank=True)
    column = models.CharField(max_length=200, blank=True)
    value = models.CharField(max_length=200, blank=True)
    message = models.CharField(max_length=500)

    class Meta:
        ordering = ["row", "id"]

    def __str__(self) -> str:
        return self.text

    @property
    def text(self) -> str:
        # Cut as the columns are: an unsaved error (the job's "First: …" line) may quote a whole cell.
        parts = []
        if self.row:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column[:200]}")
        where = ", ".join(parts)
        value = f'"{self.value[:200]}" ' if self.value else ""
        message = self.message[:500]
        return f"{where}: {value}{message}" if where else f"{value}{message}"

"""What the public may read: releases of rounds and their disclosure-checked cells.

Publishing a round creates a ``Release`` and copies every figure the public may see into
``PublishedCell`` rows, after the disclosure check has suppressed (or rolled up) small cells.
Every public reader — pages, HAPI-shaped API, DTM API v3-compatible API, exports — reads
``PublishedCell`` of the current release of a round, and nothing else.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from mobility.core.models import Operation, PopulationGroup, Round


class Release(models.Model):
    """One publication of one round (a correction is a new release with a change note)."""

    class Status(models.TextChoices):
        CURRENT = "current", _("Current")
        SUPERSEDED = "superseded", _("Superseded by a correction")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, related_name="releases")
    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="releases")
    reporting_round = models.PositiveIntegerField()
    version = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CURRENT)
    published_at = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    change_note = models.TextField(blank=True)
    threshold = models.PositiveIntegerField(default=5)
    disclosure_report = models.JSONField(default=dict, blank=True)
    source_note = models.CharField(max_length=300, blank=True)  # e.g. "IOM DTM API v3 (already public)"

    class Meta:
        ordering = ["operation", "-reporting_round", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["operation", "reporting_round", "version"], name="release_version_unique"
            ),
            models.UniqueConstraint(
                fields=["operation", "reporting_round"],
                condition=models.Q(status="current"),
                name="release_one_current_per_round",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operation} round {self.reporting_round} v{self.version}"


class PublishedCell(models.Model):
    """One public figure: area (or site) × population group × breakdown, after disclosure control.

    ``breakdown`` says what the cell is: "" the total of the group in the place; "sex_age" one
    sex/age band (``band`` e.g. "female_0-4"); "reason" one displacement reason × origin part
    (as DTM API v3 publishes them). A suppressed cell keeps its row with ``individuals=None`` so
    readers can say "suppressed" instead of silently showing nothing.
    """

    class Breakdown(models.TextChoices):
        TOTAL = "", _("Total")
        SEX_AGE = "sex_age", _("Sex and age band")
        REASON = "reason", _("Displacement reason and origin")

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="cells")
    assessment_type = models.CharField(max_length=3)
    population_group = models.CharField(max_length=8, choices=PopulationGroup.choices)
    country_iso3 = models.CharField(max_length=3, db_index=True)
    location_name = models.CharField(max_length=200, blank=True)  # country name
    admin_level = models.PositiveSmallIntegerField()
    admin1_code = models.CharField(max_length=32, blank=True)
    admin1_name = models.CharField(max_length=200, blank=True)
    admin2_code = models.CharField(max_length=32, blank=True)
    admin2_name = models.CharField(max_length=200, blank=True)
    admin3_code = models.CharField(max_length=32, blank=True)
    admin3_name = models.CharField(max_length=200, blank=True)
    provider_admin1_name = models.CharField(max_length=200, blank=True)
    provider_admin2_name = models.CharField(max_length=200, blank=True)
    location_code = models.CharField(max_length=64, blank=True)  # site-level cells
    breakdown = models.CharField(max_length=8, choices=Breakdown.choices, blank=True, default="")
    band = models.CharField(max_length=32, blank=True)
    displacement_reason = models.CharField(max_length=24, blank=True)
    provider_reason = models.CharField(max_length=200, blank=True)
    origin_admin1_code = models.CharField(max_length=32, blank=True)
    origin_admin1_name = models.CharField(max_length=200, blank=True)
    individuals = models.PositiveBigIntegerField(null=True, blank=True)
    households = models.PositiveBigIntegerField(null=True, blank=True)
    males = models.PositiveBigIntegerField(null=True, blank=True)
    females = models.PositiveBigIntegerField(null=True, blank=True)
    source_ref = models.CharField(max_length=64, blank=True)  # the source's record id (DTM `id`), if any
    suppressed = models.BooleanField(default=False)
    suppression = models.CharField(max_length=16, blank=True)  # primary | secondary | rollup
    reporting_date = models.DateField()
    reference_period_start = models.DateField()
    reference_period_end = models.DateField()

    class Meta:
        ordering = ["release", "admin_level", "admin1_code", "admin2_code", "admin3_code"]
        indexes = [
            models.Index(fields=["release", "breakdown", "admin_level", "population_group"]),
            models.Index(fields=["country_iso3", "admin_level", "breakdown"]),
            models.Index(fields=["admin1_code"]),
            models.Index(fields=["admin2_code"]),
            # The DTM API's name filters compare upper-cased names (api_dtm.same_name): these make
            # them index look-ups on SQLite and PostgreSQL alike.
            models.Index(Upper("location_name"), name="pubcell_upper_location_name"),
            models.Index(Upper("admin1_name"), name="pubcell_upper_admin1_name"),
            models.Index(Upper("provider_admin1_name"), name="pubcell_upper_prov_admin1"),
            models.Index(Upper("admin2_name"), name="pubcell_upper_admin2_name"),
            models.Index(Upper("provider_admin2_name"), name="pubcell_upper_prov_admin2"),
        ]

    def __str__(self) -> str:
        return f"{self.release_id} {self.admin1_code}/{self.admin2_code} {self.population_group} {self.individuals}"

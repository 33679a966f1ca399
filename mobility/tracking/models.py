"""Mobility tracking: assessments per location and round, their population figures and breakdowns,
site assessments with sector indicators, emergency event tracking with alerts, and the analytics
table that dashboards and APIs read.

Identity rules (never double-count):
- An ``Assessment`` is one place × round × assessment type. Its identity is ``(round,
  assessment_type, place_key)`` where ``place_key`` is the location code for sub-area and site
  assessments and the deepest admin p-code for area assessments.
- A ``PopulationFigure`` is one assessment × population group: the one number that is counted.
  Sources that split it into several rows (reason × origin) are summed into it, and the parts are
  kept as ``FigureBreakdown`` rows that never count on their own.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from mobility.core.models import ImportJob, Operation, PopulationGroup, Round, TimeStamped
from mobility.gazetteer.models import Location


class AssessmentType(models.TextChoices):
    BASELINE_AREA = "BA", _("Baseline area assessment")
    BASELINE_SUBAREA = "BSA", _("Baseline sub-area assessment")
    SITE = "SA", _("Site assessment (multi-sectoral location assessment)")


class DisplacementReason(models.TextChoices):
    CONFLICT = "conflict", _("Conflict")
    GENERALISED_VIOLENCE = "generalised_violence", _("Generalised violence")
    NATURAL_DISASTER = "natural_disaster", _("Natural disaster")
    EVICTION = "eviction", _("Eviction")
    ECONOMIC = "economic", _("Economic reasons")
    OTHER = "other", _("Other")
    UNKNOWN = "unknown", _("Not available")


class HazardType(models.TextChoices):
    FLOOD = "flood", _("Flood")
    CYCLONE = "cyclone", _("Cyclone / storm")
    DROUGHT = "drought", _("Drought")
    EARTHQUAKE = "earthquake", _("Earthquake")
    FIRE = "fire", _("Fire")
    LANDSLIDE = "landslide", _("Landslide")
    VOLCANO = "volcano", _("Volcanic eruption")
    OTHER = "other", _("Other hazard")


class ShelterType(models.TextChoices):
    HOST_FAMILY = "host_family", _("With host families")
    RENTED = "rented", _("Rented accommodation")
    OWN_HOUSE = "own_house", _("Own house")
    CAMP = "camp", _("Camp / planned site")
    COLLECTIVE_CENTRE = "collective_centre", _("Collective centre")
    SPONTANEOUS_SITE = "spontaneous_site", _("Spontaneous / informal site")
    EMERGENCY_SHELTER = "emergency_shelter", _("Emergency shelter / tent")
    OPEN_AIR = "open_air", _("Open air / no shelter")
    OTHER = "other", _("Other")


class Sector(models.TextChoices):
    WASH = "wash", _("Water, sanitation and hygiene")
    FOOD = "food", _("Food security")
    HEALTH = "health", _("Health")
    LIVELIHOODS = "livelihoods", _("Livelihoods")
    PROTECTION = "protection", _("Protection")
    SHELTER = "shelter", _("Shelter and NFI")
    COMMUNICATION = "communication", _("Communication")
    EDUCATION = "education", _("Education")
    SITE = "site", _("Site management")


class Assessment(TimeStamped):
    """One place assessed in one round with one tool (BA, BSA or SA)."""

    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, related_name="assessments")
    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="assessments")
    assessment_type = models.CharField(max_length=3, choices=AssessmentType.choices)
    place_key = models.CharField(max_length=64)  # location code or deepest p-code: the identity
    country_iso3 = models.CharField(max_length=3, db_index=True)
    admin_level = models.PositiveSmallIntegerField()  # level of the area the figure belongs to
    admin1_code = models.CharField(max_length=32, blank=True, db_index=True)
    admin2_code = models.CharField(max_length=32, blank=True, db_index=True)
    admin3_code = models.CharField(max_length=32, blank=True, db_index=True)
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="assessments"
    )
    # The names as the source wrote them (HAPI provider_*_name).
    provider_admin1_name = models.CharField(max_length=200, blank=True)
    provider_admin2_name = models.CharField(max_length=200, blank=True)
    provider_admin3_name = models.CharField(max_length=200, blank=True)
    provider_location_name = models.CharField(max_length=200, blank=True)
    reporting_date = models.DateField()
    key_informants = models.PositiveIntegerField(null=True, blank=True)
    # Site profile (site assessments): type, management, accessibility...
    site_profile = models.JSONField(default=dict, blank=True)
    top_needs = models.JSONField(default=list, blank=True)  # ordered sector codes
    import_job = models.ForeignKey(ImportJob, null=True, blank=True, on_delete=models.SET_NULL)
    source = models.CharField(max_length=64, blank=True)  # e.g. "dtm-api-v3", "profile:mali-ba"
    source_ref = models.CharField(max_length=200, blank=True)  # the source's own row id(s)

    class Meta:
        ordering = ["round", "assessment_type", "place_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["round", "assessment_type", "place_key"], name="assessment_identity"
            )
        ]
        indexes = [models.Index(fields=["operation", "round", "admin_level"])]

    def __str__(self) -> str:
        return f"{self.assessment_type} {self.place_key} round {self.round.number}"


class PopulationFigure(models.Model):
    """The counted figure: one assessment × population group. Sex/age parts where known."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="figures")
    population_group = models.CharField(max_length=8, choices=PopulationGroup.choices)
    households = models.PositiveIntegerField(null=True, blank=True)
    individuals = models.PositiveIntegerField()
    males = models.PositiveIntegerField(null=True, blank=True)
    females = models.PositiveIntegerField(null=True, blank=True)
    # Sex × age band counts, keys like "female_0-4" (core.sadd.Sadd.as_dict); empty when unknown.
    sadd = models.JSONField(default=dict, blank=True)
    shelter = models.JSONField(default=dict, blank=True)  # {ShelterType: individuals}
    displacement_start = models.DateField(null=True, blank=True)
    displacement_end = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["assessment", "population_group"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "population_group"], name="figure_one_per_group")
        ]

    def __str__(self) -> str:
        return f"{self.assessment} {self.population_group} {self.individuals}"


class FigureBreakdown(models.Model):
    """A part of a figure by displacement reason and area of origin. Parts sum to the figure; never counted alone."""

    figure = models.ForeignKey(PopulationFigure, on_delete=models.CASCADE, related_name="breakdowns")
    displacement_reason = models.CharField(max_length=24, choices=DisplacementReason.choices)
    hazard_type = models.CharField(max_length=16, choices=HazardType.choices, blank=True)
    provider_reason = models.CharField(max_length=200, blank=True)  # as the source wrote it
    origin_admin1_code = models.CharField(max_length=32, blank=True)
    origin_admin1_name = models.CharField(max_length=200, blank=True)
    origin_admin2_code = models.CharField(max_length=32, blank=True)
    origin_admin2_name = models.CharField(max_length=200, blank=True)
    individuals = models.PositiveIntegerField()
    households = models.PositiveIntegerField(null=True, blank=True)
    males = models.PositiveIntegerField(null=True, blank=True)
    females = models.PositiveIntegerField(null=True, blank=True)
    source_ref = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["figure", "displacement_reason", "origin_admin1_code"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "figure",
                    "displacement_reason",
                    "hazard_type",
                    "provider_reason",
                    "origin_admin1_code",
                    "origin_admin2_code",
                ],
                name="breakdown_unique_part",
            )
        ]

    def __str__(self) -> str:
        return f"{self.figure_id} {self.displacement_reason} {self.origin_admin1_code} {self.individuals}"


class IndicatorValue(models.Model):
    """A typed sector indicator of a (site) assessment, e.g. WASH / water_source = "borehole"."""

    class Kind(models.TextChoices):
        NUMBER = "number", _("Number")
        BOOLEAN = "boolean", _("Yes / no")
        CHOICE = "choice", _("Choice")
        TEXT = "text", _("Text")

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="indicators")
    sector = models.CharField(max_length=16, choices=Sector.choices)
    indicator = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value_number = models.FloatField(null=True, blank=True)
    value_boolean = models.BooleanField(null=True, blank=True)
    value_text = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["assessment", "sector", "indicator"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "sector", "indicator"], name="indicator_unique")
        ]

    def __str__(self) -> str:
        return f"{self.sector}/{self.indicator}"


class SourceProfile(TimeStamped):
    """A saved column mapping for a workbook layout, reused for the next round of the same source."""

    name = models.SlugField(max_length=100, unique=True)
    label = models.CharField(max_length=200)
    operation = models.ForeignKey(
        Operation, null=True, blank=True, on_delete=models.CASCADE, related_name="source_profiles"
    )
    country_iso3 = models.CharField(max_length=3, blank=True)
    assessment_type = models.CharField(
        max_length=3, choices=AssessmentType.choices, default=AssessmentType.BASELINE_AREA
    )
    # {"sheet": ..., "header_row": ..., "columns": {vocabulary_field: source column}, "constants": {...},
    #  "skip_rows_where": {...}} — see tracking/profiles.py.
    mapping = models.JSONField(default=dict)
    built_in = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.label


# --- emergency event tracking --------------------------------------------------------------


class EventType(models.TextChoices):
    CONFLICT = "conflict", _("Conflict / armed attack")
    FLOOD = "flood", _("Flood")
    CYCLONE = "cyclone", _("Cyclone / storm")
    DROUGHT = "drought", _("Drought")
    FIRE = "fire", _("Fire")
    EVICTION = "eviction", _("Eviction")
    EARTHQUAKE = "earthquake", _("Earthquake")
    OTHER = "other", _("Other")


class Event(TimeStamped):
    """An emergency event tracked between rounds (ETT): what happened, where and when."""

    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, related_name="events")
    code = models.CharField(max_length=64)  # the source's event id: identity within the operation
    event_type = models.CharField(max_length=16, choices=EventType.choices)
    date = models.DateField()
    country_iso3 = models.CharField(max_length=3)
    admin1_code = models.CharField(max_length=32, blank=True)
    admin2_code = models.CharField(max_length=32, blank=True)
    admin3_code = models.CharField(max_length=32, blank=True)
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    description = models.TextField(blank=True)
    import_job = models.ForeignKey(ImportJob, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-date", "code"]
        constraints = [models.UniqueConstraint(fields=["operation", "code"], name="event_code_unique")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.code} {self.date}"


class GroupMovement(models.Model):
    """A group that moved because of an event: how many, from where, to where, shelter, needs."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="movements")
    code = models.CharField(max_length=64)  # identity within the event
    population_group = models.CharField(
        max_length=8, choices=PopulationGroup.choices, default=PopulationGroup.IDP
    )
    households = models.PositiveIntegerField(null=True, blank=True)
    individuals = models.PositiveIntegerField(validators=[MinValueValidator(0)])
    from_admin1_code = models.CharField(max_length=32, blank=True)
    from_admin2_code = models.CharField(max_length=32, blank=True)
    from_admin3_code = models.CharField(max_length=32, blank=True)
    to_admin1_code = models.CharField(max_length=32, blank=True)
    to_admin2_code = models.CharField(max_length=32, blank=True)
    to_admin3_code = models.CharField(max_length=32, blank=True)
    to_location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="arrivals"
    )
    shelter = models.CharField(max_length=24, choices=ShelterType.choices, blank=True)
    initial_needs = models.JSONField(default=list, blank=True)  # sector codes

    class Meta:
        ordering = ["event", "code"]
        constraints = [models.UniqueConstraint(fields=["event", "code"], name="movement_code_unique")]

    def __str__(self) -> str:
        return f"{self.event.code}/{self.code}: {self.individuals}"


class AlertRule(TimeStamped):
    """When an event deserves an alert: above a size, or anywhere in a watched area."""

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="alert_rules")
    min_individuals = models.PositiveIntegerField(null=True, blank=True)
    watched_pcode = models.CharField(max_length=32, blank=True)
    subscribers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="alert_rules")

    def __str__(self) -> str:
        return f"alert rule {self.pk} ({self.operation})"


class Alert(TimeStamped):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="alerts")
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    reason = models.CharField(max_length=300)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["event", "rule"], name="alert_once_per_rule")]

    def __str__(self) -> str:
        return self.reason


# --- analytics ---------------------------------------------------------------------------------


class AreaFigure(models.Model):
    """Summary cell: population of one group in one admin area for one round version.

    Refreshed from assessments on import and publish (tracking.analytics); dashboards and APIs read
    these cells, never raw rows. Every level is stored (admin0 totals too), each the sum of the
    assessments inside it, so no reader adds levels together.
    """

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="area_figures")
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="area_figures")
    assessment_type = models.CharField(max_length=3, choices=AssessmentType.choices)
    population_group = models.CharField(max_length=8, choices=PopulationGroup.choices)
    country_iso3 = models.CharField(max_length=3)
    admin_level = models.PositiveSmallIntegerField()
    admin1_code = models.CharField(max_length=32, blank=True)
    admin2_code = models.CharField(max_length=32, blank=True)
    admin3_code = models.CharField(max_length=32, blank=True)
    pcode = models.CharField(max_length=32)  # the area this cell is for (== deepest code above)
    individuals = models.PositiveBigIntegerField()
    households = models.PositiveBigIntegerField(null=True, blank=True)
    males = models.PositiveBigIntegerField(null=True, blank=True)
    females = models.PositiveBigIntegerField(null=True, blank=True)
    assessments = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["round", "admin_level", "pcode"]
        constraints = [
            models.UniqueConstraint(
                fields=["round", "assessment_type", "population_group", "pcode"], name="area_figure_cell"
            )
        ]
        indexes = [
            models.Index(fields=["operation", "round", "admin_level", "population_group"]),
            models.Index(fields=["country_iso3", "admin_level"]),
        ]

    def __str__(self) -> str:
        return f"{self.pcode} {self.population_group} r{self.round_id}: {self.individuals}"

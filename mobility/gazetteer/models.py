"""The p-code gazetteer: versioned admin areas, aliases, typed locations and the name-matching review list."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from mobility.core.models import ImportJob, Operation, TimeStamped, iso3_validator

MAX_ADMIN_LEVEL = 5


class GazetteerVersion(TimeStamped):
    """One edition of a country's gazetteer (e.g. the 2019 OCHA COD). Old editions are kept."""

    class Format(models.TextChoices):
        COD = "cod", _("OCHA COD p-code table")
        GLOBAL_PCODES = "global-pcodes", _("OCHA global p-code list")

    country_iso3 = models.CharField(max_length=3, validators=[iso3_validator], db_index=True)
    edition = models.CharField(max_length=100)
    valid_from = models.DateField()
    source = models.CharField(max_length=300, blank=True)
    source_format = models.CharField(max_length=20, choices=Format.choices, default=Format.COD)
    sha256 = models.CharField(max_length=64, blank=True)
    is_current = models.BooleanField(default=True)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    import_job = models.ForeignKey(ImportJob, null=True, blank=True, on_delete=models.SET_NULL)
    max_level = models.PositiveSmallIntegerField(default=0)
    languages = models.JSONField(default=list, blank=True)
    area_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["country_iso3", "-valid_from", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["country_iso3", "edition"], name="gazetteer_edition_unique"),
            models.UniqueConstraint(
                fields=["country_iso3"], condition=models.Q(is_current=True), name="gazetteer_one_current"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.country_iso3} {self.edition}"


class AdminArea(models.Model):
    """An administrative area of one gazetteer version, in a tree from admin0 down."""

    version = models.ForeignKey(GazetteerVersion, on_delete=models.CASCADE, related_name="areas")
    country_iso3 = models.CharField(max_length=3, db_index=True)
    pcode = models.CharField(max_length=32)
    level = models.PositiveSmallIntegerField(validators=[MaxValueValidator(MAX_ADMIN_LEVEL)])
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    name = models.CharField(max_length=200)
    names = models.JSONField(default=dict, blank=True)  # {"en": "...", "pt": "..."}
    name_normalized = models.CharField(max_length=200, db_index=True)
    area_type = models.CharField(max_length=60, blank=True)  # e.g. "Posto", "Tehsil"
    area_km2 = models.FloatField(null=True, blank=True)
    geometry = models.TextField(blank=True)  # GeoJSON geometry, WGS84
    min_lon = models.FloatField(null=True, blank=True)
    min_lat = models.FloatField(null=True, blank=True)
    max_lon = models.FloatField(null=True, blank=True)
    max_lat = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["pcode"]
        constraints = [
            models.UniqueConstraint(fields=["version", "pcode"], name="area_pcode_unique_in_version")
        ]
        indexes = [
            models.Index(fields=["version", "level"]),
            models.Index(fields=["country_iso3", "pcode"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.pcode})"

    @property
    def bbox(self) -> list[float] | None:
        if self.min_lon is None:
            return None
        return [self.min_lon, self.min_lat, self.max_lon, self.max_lat]


class PcodeChange(models.Model):
    """What changed between two editions: a p-code added, removed, renamed or moved to another parent."""

    class Change(models.TextChoices):
        ADDED = "added", _("Added")
        REMOVED = "removed", _("Removed")
        RENAMED = "renamed", _("Renamed")
        REPARENTED = "reparented", _("Moved to another parent")

    from_version = models.ForeignKey(GazetteerVersion, on_delete=models.CASCADE, related_name="changes_out")
    to_version = models.ForeignKey(GazetteerVersion, on_delete=models.CASCADE, related_name="changes_in")
    pcode = models.CharField(max_length=32)
    level = models.PositiveSmallIntegerField()
    change = models.CharField(max_length=16, choices=Change.choices)
    old_name = models.CharField(max_length=200, blank=True)
    new_name = models.CharField(max_length=200, blank=True)
    old_parent = models.CharField(max_length=32, blank=True)
    new_parent = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["to_version", "level", "pcode", "change"]

    def __str__(self) -> str:
        return f"{self.pcode} {self.change}"


class AreaCrosswalk(models.Model):
    """Old p-code → new p-code between two editions, so figures stored under old codes can still be read."""

    class Method(models.TextChoices):
        SAME = "same", _("Same p-code")
        NAME = "name", _("Same name under the same parent")
        PARENT = "parent", _("Removed; figures roll up to the parent")
        SPLIT = "split", _("Split between several new areas")

    from_version = models.ForeignKey(GazetteerVersion, on_delete=models.CASCADE, related_name="crosswalk_out")
    to_version = models.ForeignKey(GazetteerVersion, on_delete=models.CASCADE, related_name="crosswalk_in")
    old_pcode = models.CharField(max_length=32)
    new_pcode = models.CharField(max_length=32)
    method = models.CharField(max_length=16, choices=Method.choices)
    weight = models.FloatField(default=1.0, validators=[MinValueValidator(0), MaxValueValidator(1)])

    class Meta:
        ordering = ["old_pcode", "new_pcode"]
        constraints = [
            models.UniqueConstraint(
                fields=["from_version", "to_version", "old_pcode", "new_pcode"], name="crosswalk_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.old_pcode} → {self.new_pcode} ({self.method})"


class AreaAlias(TimeStamped):
    """Another name for a p-code, learned from a confirmed match or given by hand; survives editions."""

    class Source(models.TextChoices):
        CONFIRMED = "confirmed", _("Confirmed in the review list")
        MANUAL = "manual", _("Added by hand")
        IMPORTED = "imported", _("From an alias file")

    country_iso3 = models.CharField(max_length=3, validators=[iso3_validator])
    level = models.PositiveSmallIntegerField()
    pcode = models.CharField(max_length=32)
    name = models.CharField(max_length=200)
    normalized = models.CharField(max_length=200)
    # The parent p-code under which the alias applies ("" = anywhere in the country).
    parent_pcode = models.CharField(max_length=32, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["country_iso3", "level", "normalized"]
        constraints = [
            models.UniqueConstraint(
                fields=["country_iso3", "level", "parent_pcode", "normalized"], name="alias_unique_per_parent"
            )
        ]
        verbose_name_plural = "area aliases"

    def __str__(self) -> str:
        return f"{self.name} → {self.pcode}"


class Location(TimeStamped):
    """A typed point: a site, village, neighbourhood, point of entry or flow monitoring point."""

    class Type(models.TextChoices):
        SITE = "site", _("Displacement site")
        VILLAGE = "village", _("Village")
        NEIGHBOURHOOD = "neighbourhood", _("Neighbourhood")
        POINT_OF_ENTRY = "point_of_entry", _("Point of entry")
        FLOW_MONITORING_POINT = "flow_monitoring_point", _("Flow monitoring point")
        OTHER = "other", _("Other")

    code = models.CharField(max_length=64, unique=True)
    type = models.CharField(max_length=32, choices=Type.choices)
    name = models.CharField(max_length=200)
    names = models.JSONField(default=dict, blank=True)
    country_iso3 = models.CharField(max_length=3, validators=[iso3_validator], db_index=True)
    operation = models.ForeignKey(
        Operation, null=True, blank=True, on_delete=models.PROTECT, related_name="locations"
    )
    latitude = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    # The p-codes the source stated, and the ones its coordinates fall in.
    stated_admin1_code = models.CharField(max_length=32, blank=True)
    stated_admin2_code = models.CharField(max_length=32, blank=True)
    stated_admin3_code = models.CharField(max_length=32, blank=True)
    admin1_code = models.CharField(max_length=32, blank=True, db_index=True)
    admin2_code = models.CharField(max_length=32, blank=True, db_index=True)
    admin3_code = models.CharField(max_length=32, blank=True, db_index=True)
    pcode_mismatch = models.BooleanField(default=False, db_index=True)
    mismatch_detail = models.CharField(max_length=300, blank=True)
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["country_iso3", "code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class MatchReview(TimeStamped):
    """A name the matcher would not decide alone; a data manager picks the area, which becomes an alias."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")
        DISMISSED = "dismissed", _("Not an area")

    country_iso3 = models.CharField(max_length=3, validators=[iso3_validator], db_index=True)
    level = models.PositiveSmallIntegerField()
    provider_name = models.CharField(max_length=200)
    normalized = models.CharField(max_length=200)
    parent_pcode = models.CharField(max_length=32, blank=True)
    match_status = models.CharField(max_length=16)  # ambiguous | unmatched
    candidates = models.JSONField(default=list, blank=True)  # [{"pcode","name","score"}]
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    chosen_pcode = models.CharField(max_length=32, blank=True)
    occurrences = models.PositiveIntegerField(default=1)
    import_job = models.ForeignKey(ImportJob, null=True, blank=True, on_delete=models.SET_NULL)
    operation = models.ForeignKey(Operation, null=True, blank=True, on_delete=models.SET_NULL)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["status", "-occurrences", "provider_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["country_iso3", "level", "parent_pcode", "normalized"], name="review_unique_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider_name} ({self.country_iso3} admin{self.level}, {self.status})"

"""Points of entry and key locations of internal mobility, their status over time, and travel
restrictions between countries.

A ``PointOfEntry`` is a place whose openness matters to people on the move: an airport, a land or
blue (sea, river, lake) border crossing, an internal transit point, an area of interest, a site
with stranded migrants. Its status is a history of ``PoEStatus`` records, each effective from a
date until the next one: the status "as of" a date is the newest record effective on or before it
(ties broken by the later record). A record is never edited in place; a correction is a new
record with the same effective date.

A ``TravelRestriction`` says that one country (``imposing_iso3``) restricts travel from another
country, a region or everyone, from one date to another (open-ended when ``effective_to`` is
empty). Sources: the COBAP policy list and the WFP travel restriction list (importers), or entered
by hand.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from mobility.core.models import ImportJob, Operation, TimeStamped, iso3_validator


class PoEType(models.TextChoices):
    AIRPORT = "airport", _("Airport")
    LAND_BORDER = "land_border", _("Land border crossing")
    BLUE_BORDER = "blue_border", _("Blue border crossing (sea, river, lake)")
    INTERNAL_TRANSIT = "internal_transit", _("Internal transit point")
    AREA_OF_INTEREST = "area_of_interest", _("Area of interest")
    STRANDED_SITE = "stranded_site", _("Site with stranded migrants")


class OperationalStatus(models.TextChoices):
    OPEN = "open", _("Fully open")
    PARTIAL = "partial", _("Partially open")
    CLOSED = "closed", _("Closed")
    UNKNOWN = "unknown", _("Unknown")


class RestrictionType(models.TextChoices):
    NONE = "none", _("No restriction")
    ENTRY = "entry", _("Entry")
    EXIT = "exit", _("Exit")
    BOTH = "both", _("Entry and exit")


class AffectedGroup(models.TextChoices):
    NATIONALS = "nationals", _("Nationals")
    REGULAR = "regular_migrants", _("Regular migrants")
    IRREGULAR = "irregular_migrants", _("Irregular migrants")
    ALL = "all", _("All")


class Measure(models.TextChoices):
    SCREENING = "medical_screening", _("Medical screening")
    QUARANTINE = "quarantine", _("Quarantine")
    TESTING = "testing", _("Testing")
    DOCUMENTS = "documentation", _("Documentation required")
    VISA = "visa_restrictions", _("Visa restrictions")
    VACCINATION = "vaccination", _("Proof of vaccination")


def _choices_list_check(value, allowed: list[str], what: str) -> None:
    if not isinstance(value, list) or any(v not in allowed for v in value):
        raise ValidationError(_("%(what)s must be among %(allowed)s.") % {"what": what, "allowed": allowed})


def groups_valid(value) -> None:
    _choices_list_check(value, AffectedGroup.values, "Affected groups")


def measures_valid(value) -> None:
    _choices_list_check(value, Measure.values, "Measures")


class PointOfEntry(TimeStamped):
    """A point of entry or key location of internal mobility (see the module docstring)."""

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="points_of_entry")
    code = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=24, choices=PoEType.choices)
    country_iso3 = models.CharField(max_length=3, validators=[iso3_validator])
    # For a border crossing, the country on the other side.
    border_country_iso3 = models.CharField(max_length=3, blank=True)
    iata_code = models.CharField(
        max_length=3,
        blank=True,
        validators=[
            RegexValidator(r"^[A-Z]{3}$", _("An IATA airport code is three capital letters, e.g. MPM."))
        ],
    )
    admin1_code = models.CharField(max_length=32, blank=True)
    admin2_code = models.CharField(max_length=32, blank=True)
    latitude = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )

    class Meta:
        ordering = ["operation", "code"]
        constraints = [models.UniqueConstraint(fields=["operation", "code"], name="poe_unique_code")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def clean(self):
        if self.iata_code and self.type != PoEType.AIRPORT:
            raise ValidationError({"iata_code": _("Only an airport has an IATA code.")})


class PoEStatus(models.Model):
    """The status of a point of entry from ``effective_from`` until its next status record."""

    poe = models.ForeignKey(PointOfEntry, on_delete=models.CASCADE, related_name="statuses")
    effective_from = models.DateField()
    status = models.CharField(max_length=10, choices=OperationalStatus.choices)
    restriction = models.CharField(
        max_length=5, choices=RestrictionType.choices, default=RestrictionType.NONE
    )
    affected_groups = models.JSONField(default=list, blank=True, validators=[groups_valid])
    measures = models.JSONField(default=list, blank=True, validators=[measures_valid])
    daily_inflow = models.PositiveIntegerField(null=True, blank=True)
    daily_outflow = models.PositiveIntegerField(null=True, blank=True)
    notes = models.TextField(blank=True)
    source = models.CharField(max_length=300, blank=True)
    published = models.BooleanField(default=False)
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    job = models.ForeignKey(ImportJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["poe", "effective_from", "id"]
        indexes = [models.Index(fields=["poe", "effective_from"], name="poestatus_poe_from")]

    def __str__(self) -> str:
        return f"{self.poe_id} {self.status} from {self.effective_from}"


class TravelRestriction(TimeStamped):
    """One country's restriction on travellers from another country, a region or everyone."""

    class Kind(models.TextChoices):
        TOTAL = "total", _("Total ban")
        PARTIAL = "partial", _("Partial / conditional")
        MEDICAL = "medical", _("Medical requirements")
        VISA = "visa", _("Visa suspension")

    class Target(models.TextChoices):
        COUNTRY = "country", _("A country")
        REGION = "region", _("A region")
        ALL = "all", _("Every country")

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="travel_restrictions")
    imposing_iso3 = models.CharField(max_length=3, validators=[iso3_validator])
    target = models.CharField(max_length=8, choices=Target.choices, default=Target.COUNTRY)
    target_iso3 = models.CharField(max_length=3, blank=True)
    target_region = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    # {"air": bool, "land": bool, "sea": bool, "measures": [...], "exceptions": "..."}
    details = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True)
    source = models.CharField(max_length=100)  # "cobap", "wfp", "manual"
    source_ref = models.CharField(max_length=100)  # the source's own id, e.g. COBAP "CY36"
    source_url = models.URLField(max_length=500, blank=True)
    published = models.BooleanField(default=False)
    job = models.ForeignKey(ImportJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["imposing_iso3", "effective_from", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["operation", "source", "source_ref", "target", "target_iso3", "target_region"],
                name="travelrestriction_unique_source",
            ),
        ]
        indexes = [
            models.Index(fields=["imposing_iso3", "effective_from"], name="travel_imposing_from"),
            models.Index(fields=["target_iso3", "effective_from"], name="travel_target_from"),
        ]

    def __str__(self) -> str:
        target = self.target_iso3 or self.target_region or self.target
        return f"{self.imposing_iso3} → {target} ({self.kind}) from {self.effective_from}"

    def clean(self):
        if self.effective_to and self.effective_from and self.effective_to < self.effective_from:
            raise ValidationError({"effective_to": _("A restriction cannot end before it starts.")})
        if self.target == self.Target.COUNTRY and not self.target_iso3:
            raise ValidationError({"target_iso3": _("Name the country the restriction is imposed on.")})
        if self.target == self.Target.REGION and not self.target_region:
            raise ValidationError({"target_region": _("Name the region the restriction is imposed on.")})

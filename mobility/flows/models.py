"""Flow monitoring: points (FMPs), corridors, counted flows, flow surveys, summaries and estimates.

A ``FlowCount`` is one observation as a team records it at a flow monitoring point: a vehicle, a
group or a family seen crossing in one direction during an observed period (an hour, a shift or a
day), with where it came from and goes to, the travellers' nationality, transport, reason, and how
many people it carried by sex and age. ``individuals`` is the number of people counted; the
sex/age and vulnerability figures break it down and never exceed it.

Counts are the registry. Pages and the API read the summary tables (``FlowDaily``,
``FlowBreakdown`` per FMP and month, and the operation-wide daily ``FlowBreakdownTotal``), which
the count writer keeps up to date as it stores rows (new rows are added, what the (FMP, day) cells
of updated rows touch is rebuilt; see ``services``); ``services.summaries_rebuild`` recomputes them from the counts (the repair path).
``FlowEstimate`` holds the estimated total flow per FMP, period and direction, with its 95%
interval and coverage (see ``estimation.py`` and docs/flows.md).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from mobility.core.models import ImportJob, Operation, TimeStamped, iso3_validator


class FmpType(models.TextChoices):
    BORDER_CROSSING = "border_crossing", _("Border crossing")
    TRANSIT_CENTRE = "transit_centre", _("Transit centre")
    BUS_STATION = "bus_station", _("Bus station")
    TRAIN_STATION = "train_station", _("Train station")
    PORT = "port", _("Port")
    AIRPORT = "airport", _("Airport")
    ROADSIDE = "roadside", _("Roadside")
    OTHER = "other", _("Other")


class MovementType(models.TextChoices):
    CROSS_BORDER = "cross_border", _("Cross-border")
    INTERNAL = "internal", _("Internal")
    TRANSIT = "transit", _("Transit")
    RETURN = "return", _("Return")
    SEASONAL = "seasonal", _("Seasonal / pastoral")


class Direction(models.TextChoices):
    IN = "in", _("In (entering)")
    OUT = "out", _("Out (leaving)")


class TransportMode(models.TextChoices):
    FOOT = "foot", _("On foot")
    BUS = "bus", _("Bus / truck")
    CAR = "car", _("Car / taxi")
    MOTORBIKE = "motorbike", _("Motorbike")
    ANIMAL = "animal", _("Animal / cart")
    BOAT = "boat", _("Boat")
    TRAIN = "train", _("Train")
    AIR = "air", _("Air")
    OTHER = "other", _("Other")
    UNKNOWN = "unknown", _("Unknown")


class MovementReason(models.TextChoices):
    ECONOMIC = "economic", _("Economic / work")
    CONFLICT = "conflict", _("Conflict / insecurity")
    NATURAL_DISASTER = "natural_disaster", _("Natural disaster / environment")
    FOOD = "food", _("Food insecurity")
    FAMILY = "family", _("Family reunion / visit")
    SERVICES = "services", _("Access to services (health, education)")
    RETURN = "return", _("Return home")
    SEASONAL = "seasonal", _("Seasonal / pastoral")
    TOURISM = "tourism", _("Tourism / short visit")
    OTHER = "other", _("Other")
    UNKNOWN = "unknown", _("Unknown")


class IntendedDuration(models.TextChoices):
    UNDER_WEEK = "lt_1w", _("Less than a week")
    WEEKS = "1w_1m", _("One week to a month")
    MONTHS = "1m_6m", _("One to six months")
    LONG = "gt_6m", _("More than six months")
    PERMANENT = "permanent", _("Permanent")
    UNKNOWN = "unknown", _("Unknown")


# Sex/age fields of a FlowCount (DTM flow monitoring bands) and the vulnerability fields.
SADD_FIELDS = [
    "males_0_4",
    "females_0_4",
    "males_5_17",
    "females_5_17",
    "males_18_59",
    "females_18_59",
    "males_60",
    "females_60",
]
VULNERABILITY_FIELDS = ["unaccompanied_children", "pregnant_women", "elderly", "disabilities"]


class Corridor(TimeStamped):
    """A group of FMPs read together, e.g. every crossing on the Afghanistan–Pakistan border."""

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="flow_corridors")
    slug = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["operation", "name"]
        constraints = [models.UniqueConstraint(fields=["operation", "slug"], name="corridor_unique")]

    def __str__(self) -> str:
        return self.name


def _hours_valid(value) -> None:
    if not isinstance(value, list) or any(not isinstance(h, int) or not 0 <= h <= 23 for h in value):
        raise ValidationError(_("Observed hours are a list of whole hours from 0 to 23."))


def _days_valid(value) -> None:
    if not isinstance(value, list) or any(not isinstance(d, int) or not 0 <= d <= 6 for d in value):
        raise ValidationError(_("Observed days are a list of weekdays from 0 (Monday) to 6 (Sunday)."))


def _movement_types_valid(value) -> None:
    if not isinstance(value, list) or any(v not in MovementType.values for v in value):
        raise ValidationError(_("Movement types must be among %(types)s.") % {"types": MovementType.values})


class FlowMonitoringPoint(TimeStamped):
    """A place where a team counts people moving, with what it observes and when."""

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="flow_points")
    code = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=32, choices=FmpType.choices, default=FmpType.BORDER_CROSSING)
    corridor = models.ForeignKey(
        Corridor, null=True, blank=True, on_delete=models.SET_NULL, related_name="points"
    )
    country_iso3 = models.CharField(max_length=3, validators=[iso3_validator])
    # For a border crossing, the country on the other side.
    border_country_iso3 = models.CharField(max_length=3, blank=True)
    admin1_code = models.CharField(max_length=32, blank=True)
    admin2_code = models.CharField(max_length=32, blank=True)
    latitude = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    movement_types = models.JSONField(default=list, blank=True, validators=[_movement_types_valid])
    # The observation schedule: weekdays (0 = Monday) and hours of the day (0–23) a team counts.
    observed_days = models.JSONField(default=list, blank=True, validators=[_days_valid])
    observed_hours = models.JSONField(default=list, blank=True, validators=[_hours_valid])
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["operation", "code"]
        constraints = [models.UniqueConstraint(fields=["operation", "code"], name="fmp_unique_code")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class FlowCount(models.Model):
    """One counted observation (see the module docstring). ``record_id`` makes a re-import an update."""

    # No index of their own: (operation, date) and (fmp, date) below lead with them.
    # Only ``fmp`` is checked by the database on every row written: the operation is the FMP's
    # (copied here for the (operation, date) index) and the job is provenance. Each checked foreign
    # key costs PostgreSQL a lookup per row: with all three, a COPY of 1M counts took 20 s, with the
    # FMP's alone 11 s (bench/bench_flows_import.py). Django's cascade still deletes counts with
    # their operation and sets ``job`` to NULL when the job is deleted.
    operation = models.ForeignKey(
        Operation, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    fmp = models.ForeignKey(
        FlowMonitoringPoint, on_delete=models.CASCADE, related_name="counts", db_index=False
    )
    record_id = models.CharField(max_length=64)
    date = models.DateField()
    # The observed period: from hour_start for period_hours hours (1 = an hourly tally, 24 = a day).
    hour_start = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(23)])
    period_hours = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(24)]
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    from_country = models.CharField(max_length=3, blank=True)
    from_admin1 = models.CharField(max_length=64, blank=True)
    from_admin2 = models.CharField(max_length=64, blank=True)
    to_country = models.CharField(max_length=3, blank=True)
    to_admin1 = models.CharField(max_length=64, blank=True)
    to_admin2 = models.CharField(max_length=64, blank=True)
    nationality = models.CharField(max_length=3, blank=True)
    transport = models.CharField(max_length=16, choices=TransportMode.choices, default=TransportMode.UNKNOWN)
    reason = models.CharField(max_length=24, choices=MovementReason.choices, default=MovementReason.UNKNOWN)
    intended_duration = models.CharField(
        max_length=12, choices=IntendedDuration.choices, default=IntendedDuration.UNKNOWN
    )
    individuals = models.PositiveIntegerField()
    households = models.PositiveIntegerField(null=True, blank=True)
    males_0_4 = models.PositiveIntegerField(null=True, blank=True)
    females_0_4 = models.PositiveIntegerField(null=True, blank=True)
    males_5_17 = models.PositiveIntegerField(null=True, blank=True)
    females_5_17 = models.PositiveIntegerField(null=True, blank=True)
    males_18_59 = models.PositiveIntegerField(null=True, blank=True)
    females_18_59 = models.PositiveIntegerField(null=True, blank=True)
    males_60 = models.PositiveIntegerField(null=True, blank=True)
    females_60 = models.PositiveIntegerField(null=True, blank=True)
    unaccompanied_children = models.PositiveIntegerField(default=0)
    pregnant_women = models.PositiveIntegerField(default=0)
    elderly = models.PositiveIntegerField(default=0)
    disabilities = models.PositiveIntegerField(default=0)
    job = models.ForeignKey(
        ImportJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )

    class Meta:
        ordering = ["fmp", "date", "hour_start", "id"]
        constraints = [
            models.UniqueConstraint(fields=["fmp", "record_id"], name="flowcount_unique_record"),
        ]
        indexes = [
            models.Index(fields=["operation", "date"], name="flowcount_op_date"),
            # The counts of one (FMP, day) cell, when its summaries are rebuilt after an update.
            models.Index(fields=["fmp", "date"], name="flowcount_fmp_date"),
        ]

    def __str__(self) -> str:
        return f"{self.fmp_id} {self.date} {self.direction} {self.individuals}"

    def clean(self):
        if self.individuals is None:  # clean_fields() reports the missing value
            return
        bands = [getattr(self, f) for f in SADD_FIELDS]
        known = [b for b in bands if b is not None]
        if known and sum(known) > self.individuals:
            raise ValidationError(
                _("The sex and age figures add up to %(sum)s, more than the %(n)s individuals counted.")
                % {"sum": sum(known), "n": self.individuals}
            )
        for name in VULNERABILITY_FIELDS:
            if (getattr(self, name) or 0) > self.individuals:
                raise ValidationError(
                    {name: _("%(field)s cannot exceed the individuals counted.") % {"field": name}}
                )


class FlowDaily(models.Model):
    """Per FMP, day and direction: rows counted, people in them, and their sex/age/vulnerability sums.

    Sex and age sums cover the counts that gave them; ``individuals`` covers every count.
    """

    # Derived rows (see ``services``): no database foreign-key check per row written (a quarter of
    # the summary writes on PostgreSQL) and no index of their own (the unique key and the
    # (operation, ...) index lead with them); Django's cascade still deletes them with their FMP.
    operation = models.ForeignKey(
        Operation, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    fmp = models.ForeignKey(
        FlowMonitoringPoint,
        on_delete=models.CASCADE,
        related_name="daily",
        db_index=False,
        db_constraint=False,
    )
    date = models.DateField()
    direction = models.CharField(max_length=3, choices=Direction.choices)
    records = models.PositiveIntegerField(default=0)
    individuals = models.PositiveBigIntegerField(default=0)
    males = models.PositiveBigIntegerField(default=0)
    females = models.PositiveBigIntegerField(default=0)
    children = models.PositiveBigIntegerField(default=0)  # aged 0–17
    older = models.PositiveBigIntegerField(default=0)  # aged 60 or more
    unaccompanied_children = models.PositiveBigIntegerField(default=0)
    pregnant_women = models.PositiveBigIntegerField(default=0)
    elderly = models.PositiveBigIntegerField(default=0)
    disabilities = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["fmp", "date", "direction"]
        constraints = [
            models.UniqueConstraint(fields=["fmp", "date", "direction"], name="flowdaily_unique"),
        ]
        # Covering for the operation's totals over a period by FMP (or its country) and direction:
        # the rows of a quarter are read from the index alone.
        indexes = [
            models.Index(
                fields=["operation", "date", "fmp", "direction", "individuals"],
                name="flowdaily_op_date_cover",
            )
        ]

    def __str__(self) -> str:
        return f"{self.fmp_id} {self.date} {self.direction}: {self.individuals}"


class FlowMonthly(models.Model):
    """Per FMP and month: rows counted, people in them and the last day counted (``FlowDaily`` summed).

    What the points list reads: every point's totals and last count from a few thousand rows
    instead of every daily row of the operation (at 10M counts 416k rows, 0.4 s; now a few ms).
    Recomputed from ``FlowDaily`` for the FMP-months an import or a rebuild touched.
    """

    operation = models.ForeignKey(
        Operation, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    fmp = models.ForeignKey(
        FlowMonitoringPoint, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    month = models.DateField(help_text="The first day of the month.")
    records = models.PositiveBigIntegerField(default=0)
    individuals = models.PositiveBigIntegerField(default=0)
    last_date = models.DateField(help_text="The last day of the month with a count.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["fmp", "month"], name="flowmonthly_unique")]
        indexes = [models.Index(fields=["operation", "month"], name="flowmonthly_op_month")]

    def __str__(self) -> str:
        return f"{self.fmp_id} {self.month:%Y-%m}: {self.individuals}"


class FlowBreakdown(models.Model):
    """Per FMP, month, direction and dimension value (nationality, reason, transport, origin, destination).

    Monthly, not daily: per day there was a breakdown row for nearly every count (see ``services``).
    ``month`` is the month's first day.
    """

    class Dimension(models.TextChoices):
        NATIONALITY = "nationality", _("Nationality")
        REASON = "reason", _("Reason for movement")
        TRANSPORT = "transport", _("Transport mode")
        DURATION = "intended_duration", _("Intended duration")
        FROM_COUNTRY = "from_country", _("Coming from (country)")
        TO_COUNTRY = "to_country", _("Going to (country)")
        FROM_ADMIN1 = "from_admin1", _("Coming from (admin 1)")
        TO_ADMIN1 = "to_admin1", _("Going to (admin 1)")

    # Derived rows (see ``services``): no database foreign-key check per row written (a quarter of
    # the summary writes on PostgreSQL) and no index of their own (the unique key and the
    # (operation, ...) index lead with them); Django's cascade still deletes them with their FMP.
    operation = models.ForeignKey(
        Operation, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    fmp = models.ForeignKey(
        FlowMonitoringPoint, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    month = models.DateField(help_text="The first day of the month.")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    dimension = models.CharField(max_length=24, choices=Dimension.choices)
    value = models.CharField(max_length=64, blank=True)
    records = models.PositiveIntegerField(default=0)
    individuals = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["fmp", "month", "direction", "dimension", "value"], name="flowbreakdown_month_unique"
            ),
        ]
        # No other index: operation-wide reads go to FlowBreakdownTotal, and each index here is
        # written for every one of the millions of breakdown rows an import adds.

    def __str__(self) -> str:
        return f"{self.fmp_id} {self.month:%Y-%m} {self.direction} {self.dimension}={self.value}: {self.individuals}"


class FlowBreakdownTotal(models.Model):
    """``FlowBreakdown`` summed over the operation's FMPs: per day, direction and dimension value.

    What the operation-wide "top values of a dimension over a period" reads (a few thousand rows a
    month instead of every FMP's). Kept with the other summaries by the same writes.
    """

    # Derived rows, like FlowBreakdown's.
    operation = models.ForeignKey(
        Operation, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    date = models.DateField()
    direction = models.CharField(max_length=3, choices=Direction.choices)
    dimension = models.CharField(max_length=24, choices=FlowBreakdown.Dimension.choices)
    value = models.CharField(max_length=64, blank=True)
    records = models.PositiveBigIntegerField(default=0)
    individuals = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["operation", "dimension", "date", "direction", "value"],
                name="flowbreakdowntotal_unique",
            ),
        ]
        # The unique key, in this order, is the index of the top-N query (a dimension over a range of days).

    def __str__(self) -> str:
        return f"{self.operation_id} {self.date} {self.direction} {self.dimension}={self.value}: {self.individuals}"


class FlowSurvey(TimeStamped):
    """One interview at an FMP: the traveller's profile, route, intentions and needs.

    No names or contacts are kept. ``answers`` holds the rest of the questionnaire and is shown to
    members of the operation only; public figures are aggregates of the coded fields.
    """

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="+")
    fmp = models.ForeignKey(FlowMonitoringPoint, on_delete=models.CASCADE, related_name="surveys")
    record_id = models.CharField(max_length=64)
    date = models.DateField()
    direction = models.CharField(max_length=3, choices=Direction.choices, blank=True)
    sex = models.CharField(max_length=1, choices=[("f", _("Female")), ("m", _("Male"))], blank=True)
    age = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(120)])
    nationality = models.CharField(max_length=3, blank=True)
    from_country = models.CharField(max_length=3, blank=True)
    from_admin1 = models.CharField(max_length=64, blank=True)
    to_country = models.CharField(max_length=3, blank=True)
    to_admin1 = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=24, choices=MovementReason.choices, default=MovementReason.UNKNOWN)
    intended_duration = models.CharField(
        max_length=12, choices=IntendedDuration.choices, default=IntendedDuration.UNKNOWN
    )
    transport = models.CharField(max_length=16, choices=TransportMode.choices, default=TransportMode.UNKNOWN)
    travelling_with = models.PositiveSmallIntegerField(null=True, blank=True)
    needs = models.JSONField(default=list, blank=True)
    answers = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey(ImportJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["fmp", "date", "id"]
        constraints = [models.UniqueConstraint(fields=["fmp", "record_id"], name="flowsurvey_unique_record")]


class FlowEstimate(models.Model):
    """An estimated total flow for an FMP, period and direction, with its 95% interval.

    ``observed`` is what the team counted; ``estimate`` the estimated total over every hour of the
    period; ``coverage`` the share of the period's hours that were observed.
    """

    class Period(models.TextChoices):
        WEEK = "week", _("Week")
        MONTH = "month", _("Month")

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="+")
    fmp = models.ForeignKey(FlowMonitoringPoint, on_delete=models.CASCADE, related_name="estimates")
    period = models.CharField(max_length=5, choices=Period.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    direction = models.CharField(max_length=3, choices=Direction.choices)
    observed = models.PositiveBigIntegerField()
    estimate = models.FloatField()
    lower = models.FloatField()
    upper = models.FloatField()
    coverage = models.FloatField()
    hours_observed = models.PositiveIntegerField()
    hours_total = models.PositiveIntegerField()
    method = models.CharField(max_length=64)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["fmp", "period", "period_start", "direction"]
        constraints = [
            models.UniqueConstraint(
                fields=["fmp", "period", "period_start", "direction"], name="flowestimate_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fmp_id} {self.period} {self.period_start} {self.direction}: {self.estimate:.0f}"


class FlowPublication(TimeStamped):
    """A period of an operation's flow data made public (after the disclosure check).

    Anonymous users and the public API see flow summaries and estimates of published periods only.
    """

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="flow_publications")
    date_from = models.DateField()
    date_to = models.DateField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    note = models.CharField(max_length=500, blank=True)
    # What the disclosure check found: {"suppressed": n, "threshold": k}
    disclosure = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["operation", "-date_to"]

    def clean(self):
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValidationError(_("A published period cannot end before it starts."))

    def __str__(self) -> str:
        return f"{self.operation_id} flows {self.date_from}–{self.date_to}"

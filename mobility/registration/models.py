"""Registration: households and individuals (personal data, encrypted), deduplication, verification
and assistance.

Personal values live only in ``Encrypted*Field`` columns; what the rest of the system may count
(sex, birth year, location p-codes, population group, statuses) is kept plain so aggregates never
need to decrypt. Exact search goes through keyed hashes (``*_hash``), never through the plain value.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from mobility.core.models import Operation, PopulationGroup, TimeStamped

from .crypto import EncryptedJSONField, EncryptedTextField

User = settings.AUTH_USER_MODEL


class Capability(models.TextChoices):
    """What a registration grant allows: each is a purpose for which personal data may be used."""

    REGISTER = "register", _("Register and correct households")
    VIEW = "view", _("See personal records")
    REVIEW = "review", _("Review duplicates and merge")
    VERIFY = "verify", _("Verify presence")
    DISTRIBUTE = "distribute", _("Record assistance")
    EXPORT = "export", _("Export personal lists")
    ERASE = "erase", _("Erase on request")


class Purpose(models.TextChoices):
    """Why a personal record was read: written to the access log with every view and export."""

    REGISTRATION = "registration", _("Registration")
    DEDUPLICATION = "deduplication", _("Duplicate review")
    VERIFICATION = "verification", _("Verification")
    ASSISTANCE = "assistance", _("Assistance delivery")
    CORRECTION = "correction", _("Data correction")
    ERASURE = "erasure", _("Erasure request")
    EXPORT = "export", _("Export for service delivery")


class RegistrationGrant(TimeStamped):
    """A user's access to personal records of one operation: membership alone never gives it."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="registration_grants")
    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="registration_grants")
    capabilities = models.JSONField(default=list)  # Capability values
    granted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "operation"], name="registration_grant_unique")
        ]


class RegistrationPolicy(TimeStamped):
    """Per-operation settings: retention of closed records and the dedup review band."""

    operation = models.OneToOneField(Operation, on_delete=models.CASCADE, related_name="registration_policy")
    retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Closed records are purged this many days after closing; empty keeps them."),
    )
    match_threshold = models.FloatField(default=0.9, validators=[MinValueValidator(0), MaxValueValidator(1)])
    review_threshold = models.FloatField(default=0.5, validators=[MinValueValidator(0), MaxValueValidator(1)])


class AccessLog(models.Model):
    """Who read or exported which personal record, when and why (ids only, never values)."""

    class Action(models.TextChoices):
        VIEW = "view", _("View")
        EXPORT = "export", _("Export")
        SEARCH = "search", _("Search")
        EDIT = "edit", _("Edit")
        MERGE = "merge", _("Merge")
        ERASE = "erase", _("Erase")
        DENIED = "denied", _("Denied")

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    operation = models.ForeignKey(
        Operation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    purpose = models.CharField(max_length=32, choices=Purpose.choices)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    records = models.PositiveIntegerField(default=1)  # an export reads many
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["operation", "at"])]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type} {self.object_id}"


class Sex(models.TextChoices):
    FEMALE = "f", _("Female")
    MALE = "m", _("Male")
    UNKNOWN = "u", _("Not stated")


class Relationship(models.TextChoices):
    HEAD = "head", _("Head of household")
    SPOUSE = "spouse", _("Spouse or partner")
    CHILD = "child", _("Son or daughter")
    PARENT = "parent", _("Father or mother")
    SIBLING = "sibling", _("Brother or sister")
    GRANDCHILD = "grandchild", _("Grandchild")
    OTHER_RELATIVE = "other_relative", _("Other relative")
    NON_RELATIVE = "non_relative", _("Not related")


class RecordStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    MOVED = "moved", _("Moved")
    NOT_FOUND = "not_found", _("Not found")
    CLOSED = "closed", _("Closed")
    ERASED = "erased", _("Erased on request")


class Household(TimeStamped):
    class Source(models.TextChoices):
        WEB = "web", _("Web form")
        FORM = "form", _("Form submission")
        IMPORT = "import", _("File import")

    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, related_name="households")
    # The household's id in the source (form instance id, file's household id): re-sends update.
    reference = models.CharField(max_length=64)
    size = models.PositiveIntegerField(validators=[MaxValueValidator(100)])
    location_pcode = models.CharField(max_length=32, blank=True, db_index=True)  # lowest known level
    admin1_pcode = models.CharField(max_length=32, blank=True)
    admin2_pcode = models.CharField(max_length=32, blank=True)
    site = models.ForeignKey(
        "gazetteer.Location", null=True, blank=True, on_delete=models.PROTECT, related_name="households"
    )
    origin_pcode = models.CharField(max_length=32, blank=True)
    displacement_date = models.DateField(null=True, blank=True)
    population_group = models.CharField(
        max_length=8, choices=PopulationGroup.choices, default=PopulationGroup.IDP
    )
    specific_needs = EncryptedJSONField(default=list, blank=True)  # codes: sensitive, so encrypted
    phone = EncryptedTextField(blank=True)
    phone_hash = models.CharField(max_length=64, blank=True, db_index=True)
    address = EncryptedTextField(blank=True)
    consent = models.BooleanField(default=False)
    consent_scope = models.JSONField(
        default=list, blank=True
    )  # e.g. ["registration", "assistance", "referral"]
    consent_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=RecordStatus.choices, default=RecordStatus.ACTIVE)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    registered_on = models.DateField()
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.WEB)
    registered_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["reference"]
        constraints = [
            models.UniqueConstraint(fields=["operation", "reference"], name="household_reference_unique"),
        ]
        indexes = [models.Index(fields=["operation", "status", "admin2_pcode"])]

    def __str__(self) -> str:  # never a personal value
        return f"household {self.reference}"


class Individual(TimeStamped):
    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, related_name="individuals")
    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="members")
    reference = models.CharField(max_length=64)  # the person's id in the source; unique in the operation
    given_name = EncryptedTextField(blank=True)
    family_name = EncryptedTextField(blank=True)
    other_names = EncryptedJSONField(default=list, blank=True)  # aliases, other spellings
    name_hash = models.CharField(max_length=64, blank=True, db_index=True)  # given + family, normalised
    sex = models.CharField(max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    date_of_birth = EncryptedTextField(blank=True)  # ISO date; with dob_estimated, a year or age-derived
    dob_estimated = models.BooleanField(default=False)
    birth_year = models.PositiveSmallIntegerField(null=True, blank=True)  # plain, for age-and-sex counts
    relationship = models.CharField(max_length=16, choices=Relationship.choices)
    # Washington Group short set: 1 no difficulty, 2 some, 3 a lot, 4 cannot do at all (encrypted: health data).
    disability = EncryptedJSONField(default=dict, blank=True)
    has_disability = models.BooleanField(default=False)  # any domain at 3 or 4 (the WG cut-off)
    status = models.CharField(max_length=16, choices=RecordStatus.choices, default=RecordStatus.ACTIVE)
    cluster = models.ForeignKey(
        "DedupCluster", null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    match_probability = models.FloatField(null=True, blank=True)  # to its cluster, when it joined one
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_records"
    )

    class Meta:
        ordering = ["household_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["operation", "reference"], name="individual_reference_unique"),
        ]
        indexes = [models.Index(fields=["operation", "status"])]

    def __str__(self) -> str:
        return f"individual {self.reference}"


class IdentityDocument(models.Model):
    class Type(models.TextChoices):
        NATIONAL_ID = "national_id", _("National identity card")
        PASSPORT = "passport", _("Passport")
        BIRTH_CERTIFICATE = "birth_certificate", _("Birth certificate")
        REFUGEE_ID = "refugee_id", _("Refugee or asylum-seeker document")
        VOTER_CARD = "voter_card", _("Voter card")
        OTHER = "other", _("Other")

    individual = models.ForeignKey(Individual, on_delete=models.CASCADE, related_name="documents")
    doc_type = models.CharField(max_length=24, choices=Type.choices)
    number = EncryptedTextField()
    number_hash = models.CharField(max_length=64, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["individual", "doc_type"], name="identity_document_one_per_type"),
        ]

    def __str__(self) -> str:  # never the number
        return f"{self.doc_type} of individual {self.individual_id}"


# --- deduplication ---------------------------------------------------------------------------


class DedupModel(TimeStamped):
    """The trained Splink model of an operation (settings with m and u), reused to score new records."""

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="dedup_models")
    version = models.PositiveIntegerField()
    settings_json = models.JSONField()
    records = models.PositiveIntegerField(default=0)  # trained on this many records
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["operation", "version"], name="dedup_model_version_unique"),
        ]


class DedupCluster(models.Model):
    """A group of records judged to be one person. Its id never changes while it has members."""

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="dedup_clusters")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"cluster {self.pk}"


class MatchPair(TimeStamped):
    """Two records the model scored as possibly the same person, and the reviewer's decision."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting review")
        DUPLICATE = "duplicate", _("Duplicate")
        NOT_DUPLICATE = "not_duplicate", _("Not a duplicate")
        MERGED = "merged", _("Merged")
        AUTO = "auto", _("Matched automatically")

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="match_pairs")
    left = models.ForeignKey(Individual, on_delete=models.CASCADE, related_name="+")
    right = models.ForeignKey(Individual, on_delete=models.CASCADE, related_name="+")
    match_probability = models.FloatField()
    match_weight = models.FloatField()
    # Per comparison: {"given_name": {"level": "Jaro-Winkler >0.9", "weight": 3.2, "agrees": true}, ...}
    comparisons = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    decided_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-match_probability"]
        constraints = [
            models.UniqueConstraint(fields=["left", "right"], name="match_pair_unique"),
            models.CheckConstraint(condition=Q(left__lt=models.F("right")), name="match_pair_ordered"),
        ]


class Merge(models.Model):
    """A reviewer merged one record into a surviving one; undoing it restores both (audited)."""

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="merges")
    survivor = models.ForeignKey(Individual, on_delete=models.CASCADE, related_name="merges_survived")
    merged = models.ForeignKey(Individual, on_delete=models.CASCADE, related_name="merges_absorbed")
    pair = models.ForeignKey(
        MatchPair, null=True, blank=True, on_delete=models.SET_NULL, related_name="merges"
    )
    # What the merge changed, to undo it: statuses and cluster ids before the merge (no personal values).
    before = models.JSONField(default=dict)
    by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    undone_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    undone_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"merge of {self.merged_id} into {self.survivor_id}"


# --- verification ----------------------------------------------------------------------------


class VerificationRound(TimeStamped):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, related_name="verification_rounds")
    name = models.CharField(max_length=200)
    site = models.ForeignKey(
        "gazetteer.Location", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    area_pcode = models.CharField(max_length=32, blank=True)
    started_on = models.DateField()
    closed_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")


class Verification(TimeStamped):
    class Outcome(models.TextChoices):
        PRESENT = "present", _("Present")
        MOVED = "moved", _("Moved")
        NOT_FOUND = "not_found", _("Not found")

    round = models.ForeignKey(VerificationRound, on_delete=models.CASCADE, related_name="verifications")
    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="verifications")
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    moved_to_pcode = models.CharField(max_length=32, blank=True)
    members_present = models.PositiveIntegerField(null=True, blank=True)
    verified_on = models.DateField()
    by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "household"], name="verification_once_per_round"),
        ]


# --- assistance ------------------------------------------------------------------------------


class Item(TimeStamped):
    """An item or kit of the operation's catalogue (e.g. NFI kit, food basket, cash transfer)."""

    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, related_name="assistance_items")
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=200)
    unit = models.CharField(max_length=32, default="kit")
    sector = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["operation", "code"], name="item_code_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Entitlement(TimeStamped):
    """How much of an item a household may receive once per period (e.g. one NFI kit per 180 days)."""

    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, related_name="entitlements")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="entitlements")
    quantity = models.PositiveIntegerField(default=1)
    per_person = models.BooleanField(default=False)  # quantity times household size
    period_days = models.PositiveIntegerField(default=30, validators=[MinValueValidator(1)])
    population_group = models.CharField(max_length=8, choices=PopulationGroup.choices, blank=True)
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["operation", "item"], name="entitlement_one_per_item")]


class Distribution(TimeStamped):
    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, related_name="distributions")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="distributions")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="distributions")
    entitlement = models.ForeignKey(
        Entitlement, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    distributed_on = models.DateField()
    site = models.ForeignKey(
        "gazetteer.Location", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    distributor = models.CharField(max_length=200, blank=True)  # the partner organisation
    # Given although the household (or one in its dedup cluster) already received it in the period.
    # Free text that may name someone: encrypted like every personal value (at most 500 characters,
    # checked by the service).
    override_reason = EncryptedTextField(blank=True)
    # The distribution it would have repeated (for the audit of overrides).
    overrides = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    recorded_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The id the distribution list or device gave it: a re-sent record updates, never doubles.
    reference = models.CharField(max_length=64)
    # Where it was given (the site's areas, else the household's at the time): aggregates count here
    # even after the household moves.
    admin1_pcode = models.CharField(max_length=32, blank=True)
    admin2_pcode = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["-distributed_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["operation", "reference"], name="distribution_reference_unique")
        ]
        indexes = [models.Index(fields=["operation", "item", "distributed_on"])]


# --- published aggregates (assistance) -------------------------------------------------------


class AssistancePublication(models.Model):
    """A month of an operation's assistance figures (and its registry counts then), made public.

    The figures are computed, disclosure-checked and frozen at publication: the public API reads
    these rows only, never the distributions.
    """

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="assistance_publications")
    period_start = models.DateField()
    period_end = models.DateField()
    threshold = models.PositiveIntegerField()
    report = models.JSONField(default=dict, blank=True)  # the disclosure report: labels and reasons only
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["operation", "period_start", "period_end"], name="assistance_publication_unique"
            )
        ]

    def __str__(self) -> str:
        return f"assistance {self.operation_id} {self.period_start:%Y-%m}"


class AssistanceFigure(models.Model):
    """Households and individuals assisted in an area, with an item, in a month (one published cell)."""

    publication = models.ForeignKey(AssistancePublication, on_delete=models.CASCADE, related_name="figures")
    admin_level = models.PositiveSmallIntegerField()  # 1 or 2
    admin1_code = models.CharField(max_length=32, blank=True)
    admin1_name = models.CharField(max_length=200, blank=True)
    admin2_code = models.CharField(max_length=32, blank=True)
    admin2_name = models.CharField(max_length=200, blank=True)
    item_code = models.CharField(max_length=32)
    item_name = models.CharField(max_length=200)
    month = models.DateField()  # first day
    gender = models.CharField(max_length=3, default="all")  # all | f | m | u
    age_range = models.CharField(max_length=16, default="all")  # all | 0-4 | … | 60+ | unknown
    households = models.PositiveIntegerField(null=True, blank=True)  # only on gender=all, age_range=all
    individuals = models.PositiveIntegerField(null=True, blank=True)  # null when suppressed
    suppressed = models.BooleanField(default=False)

    class Meta:
        ordering = ["publication_id", "month", "item_code", "admin_level", "admin1_code", "admin2_code", "id"]

    def __str__(self) -> str:
        return f"{self.item_code} {self.admin2_code or self.admin1_code} {self.month:%Y-%m}"


class RegistryFigure(models.Model):
    """Registered households and individuals of an area by status, as of a publication."""

    publication = models.ForeignKey(AssistancePublication, on_delete=models.CASCADE, related_name="registry")
    admin_level = models.PositiveSmallIntegerField()
    admin1_code = models.CharField(max_length=32, blank=True)
    admin1_name = models.CharField(max_length=200, blank=True)
    admin2_code = models.CharField(max_length=32, blank=True)
    admin2_name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16)  # all | a RecordStatus value
    households = models.PositiveIntegerField(null=True, blank=True)
    individuals = models.PositiveIntegerField(null=True, blank=True)
    suppressed = models.BooleanField(default=False)

    class Meta:
        ordering = ["publication_id", "admin_level", "admin1_code", "admin2_code", "status", "id"]

    def __str__(self) -> str:
        return f"{self.admin2_code or self.admin1_code} {self.status}"

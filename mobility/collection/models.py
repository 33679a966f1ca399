"""Data collection: XLSForms and their versions, submissions (exactly once by instanceID), bindings
of a form to a domain importer, and pulls from KoboToolbox / ODK Central.

Identity rules (see docs/collection.md):
- A form is (operation, xml_form_id); a version is (form, version string).
- A submission is (form, instance_id): a database constraint, so two racing re-sends store one.
- An edit (meta/deprecatedID) is a new submission whose ``root_id`` is the first instance of the
  chain; the earlier one is marked superseded and its domain rows are replaced.
- A different body under an instance_id already stored is a ``SubmissionConflict``, kept for review.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from mobility.core.models import ImportJob, Operation, TimeStamped


class Form(TimeStamped):
    class State(models.TextChoices):
        OPEN = "open", _("Open: listed on phones and accepting submissions")
        CLOSING = "closing", _("Closing: accepting submissions, not listed for download")
        CLOSED = "closed", _("Closed: refusing submissions")

    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, related_name="forms")
    xml_form_id = models.CharField(max_length=255)  # the XLSForm settings form_id
    title = models.CharField(max_length=255)
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN)
    current_version = models.ForeignKey(
        "FormVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Minimum plausible interview length (seconds) for the "too short" quality flag.
    min_duration_seconds = models.PositiveIntegerField(default=300)

    class Meta:
        ordering = ["operation", "xml_form_id"]
        constraints = [
            models.UniqueConstraint(fields=["operation", "xml_form_id"], name="form_unique_per_operation")
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.xml_form_id})"


class FormVersion(TimeStamped):
    """One published version of a form: the XLSForm as uploaded, its XForm XML, its fields."""

    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=255)
    xlsform = models.FileField(upload_to="collection/xlsforms/%Y/%m/", max_length=500, blank=True)
    xlsform_sha256 = models.CharField(max_length=64, blank=True)
    xml = models.TextField()
    xml_md5 = models.CharField(max_length=32)
    default_language = models.CharField(max_length=100, blank=True)
    languages = models.JSONField(default=list, blank=True)
    # [{"path": "/data/grp/q", "name": "q", "type": "integer", "labels": {lang: text},
    #   "list": "choices list name", "personal": bool, "repeat": "/data/rpt" or ""}]
    fields = models.JSONField(default=list, blank=True)
    choices = models.JSONField(default=dict, blank=True)  # {list_name: {value: {lang: label}}}
    warnings = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["form", "-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["form", "version"], name="form_version_unique")]

    def __str__(self) -> str:
        return f"{self.form.xml_form_id} v{self.version}"

    @property
    def personal_paths(self) -> set[str]:
        return {f["path"] for f in self.fields if f.get("personal")}


class MediaFile(models.Model):
    """A file a form version needs on the phone (images, CSV for pulldata / select_one_from_file)."""

    version = models.ForeignKey(FormVersion, on_delete=models.CASCADE, related_name="media")
    name = models.CharField(max_length=255)
    file = models.FileField(upload_to="collection/media/%Y/%m/", max_length=500)
    md5 = models.CharField(max_length=32)
    size_bytes = models.BigIntegerField(default=0)
    content_type = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["version", "name"]
        constraints = [models.UniqueConstraint(fields=["version", "name"], name="media_unique_name")]

    def __str__(self) -> str:
        return self.name


class Submission(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")  # stored; not bound, or waiting to be processed
        PROCESSED = "processed", _("Processed into domain rows")
        NEEDS_ATTENTION = "attention", _("Needs attention")
        SUPERSEDED = "superseded", _("Replaced by an edit")

    class Origin(models.TextChoices):
        DIRECT = "direct", _("Sent to this server (ODK Collect, Enketo)")
        KOBO = "kobo", _("Pulled from KoboToolbox")
        CENTRAL = "central", _("Pulled from ODK Central")

    form = models.ForeignKey(Form, on_delete=models.PROTECT, related_name="submissions")
    form_version = models.ForeignKey(
        FormVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="submissions"
    )
    version_string = models.CharField(max_length=255, blank=True)  # as the instance stated it
    instance_id = models.CharField(max_length=255)
    deprecated_id = models.CharField(max_length=255, blank=True)
    root_id = models.CharField(max_length=255, db_index=True)  # first instance of an edit chain
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="supersedes"
    )
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.DIRECT)
    pull_source = models.ForeignKey(
        "PullSource", null=True, blank=True, on_delete=models.SET_NULL, related_name="submissions"
    )
    # The body exactly as received (XML from phones and Central, JSON from Kobo) and its checksum.
    raw = models.BinaryField()
    raw_format = models.CharField(max_length=4, default="xml")
    raw_sha256 = models.CharField(max_length=64)
    # The values, flattened: {"/data/grp/q": "3", "/data/rpt": [{...}, ...]}.
    data = models.JSONField(default=dict)
    content_sha256 = models.CharField(max_length=64, db_index=True)  # of data without meta/*
    # A data manager's corrections ({path: value}); the original stays in raw/data.
    corrections = models.JSONField(default=dict, blank=True)
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    corrected_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    enumerator = models.CharField(max_length=150, blank=True)  # username, or the remote submitter
    device_id = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    submitted_at = models.DateTimeField(db_index=True)  # on the source server; = received_at if direct
    started_at = models.DateTimeField(null=True, blank=True)  # the form's `start`
    ended_at = models.DateTimeField(null=True, blank=True)  # the form's `end`
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    area_code = models.CharField(max_length=32, blank=True, db_index=True)  # deepest stated p-code
    incomplete = models.BooleanField(default=False)  # more attachments announced (*isIncomplete*)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    flags = models.JSONField(default=list, blank=True)  # [{"code": ..., "message": ...}]
    binding = models.ForeignKey("Binding", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    import_job = models.ForeignKey(
        ImportJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["form", "instance_id"], name="submission_unique_instance")
        ]
        indexes = [models.Index(fields=["form", "status"]), models.Index(fields=["form", "submitted_at"])]

    def __str__(self) -> str:
        return f"{self.form.xml_form_id} {self.instance_id}"

    @property
    def is_current(self) -> bool:
        return self.superseded_by_id is None

    @property
    def values(self) -> dict:
        """The values with a data manager's corrections applied."""
        return {**self.data, **self.corrections} if self.corrections else self.data


class Attachment(models.Model):
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="attachments")
    name = models.CharField(max_length=255)
    file = models.FileField(upload_to="collection/attachments/%Y/%m/", max_length=500)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField(default=0)
    content_type = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["submission", "name"]
        constraints = [models.UniqueConstraint(fields=["submission", "name"], name="attachment_unique_name")]

    def __str__(self) -> str:
        return self.name


class SubmissionConflict(models.Model):
    """A body that differs from the stored one under the same instanceID: kept, never dropped."""

    class Resolution(models.TextChoices):
        OPEN = "open", _("Open")
        KEPT_STORED = "kept", _("Kept the stored submission")
        REPLACED = "replaced", _("Replaced the stored submission with this body")

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="conflicts")
    raw = models.BinaryField()
    raw_sha256 = models.CharField(max_length=64)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField(auto_now_add=True)
    resolution = models.CharField(max_length=8, choices=Resolution.choices, default=Resolution.OPEN)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "raw_sha256"], name="conflict_unique_body")
        ]

    def __str__(self) -> str:
        return f"conflict {self.pk} on submission {self.submission_id}"


class Binding(TimeStamped):
    """Form → domain target with a field mapping. Saving a changed mapping makes a new version."""

    class Target(models.TextChoices):
        BASELINE = "tracking.template", _("Tracking: baseline assessment (area / sub-area)")
        SITE = "tracking.sites", _("Tracking: site assessment")
        EVENT = "tracking.events", _("Tracking: emergency event tracking (ETT)")
        FLOW_COUNTS = "flows.counts", _("Flows: counts at a flow monitoring point")
        FLOW_SURVEYS = "flows.surveys", _("Flows: flow survey interviews")
        REGISTRATION = "registration.households", _("Registration: households and their members")

    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="bindings")
    version = models.PositiveIntegerField()
    target = models.CharField(max_length=64, choices=Target.choices)
    # {target column: "/data/path"} and constants {target column: value} (e.g. the round number)
    mapping = models.JSONField(default=dict)
    constants = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["form", "-version"]
        constraints = [models.UniqueConstraint(fields=["form", "version"], name="binding_unique_version")]

    def __str__(self) -> str:
        return f"{self.form.xml_form_id} → {self.target} (v{self.version})"


class SubmissionOutput(models.Model):
    """Which domain rows a submission produced, so an edit or a re-process can replace them."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="outputs")
    model = models.CharField(max_length=64)  # "tracking.assessment", "tracking.event"
    object_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["submission", "model", "object_id"], name="output_unique")
        ]
        indexes = [models.Index(fields=["model", "object_id"])]

    def __str__(self) -> str:
        return f"{self.model}:{self.object_id}"


class PullSource(TimeStamped):
    """A KoboToolbox asset or an ODK Central form whose submissions are pulled into a local form."""

    class Kind(models.TextChoices):
        KOBO = "kobo", _("KoboToolbox")
        CENTRAL = "central", _("ODK Central")

    name = models.SlugField(max_length=100, unique=True)
    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, related_name="pull_sources")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    url = models.URLField(max_length=500)
    # Kobo: API token. Central: "email:password" or an app-user / API token. Never shown back.
    credential = models.TextField(blank=True)
    remote_form = models.CharField(max_length=255)  # Kobo asset uid, or Central xmlFormId
    remote_project = models.CharField(max_length=64, blank=True)  # Central project id
    form = models.ForeignKey(
        Form, null=True, blank=True, on_delete=models.SET_NULL, related_name="pull_sources"
    )
    # Incremental cursor. Kobo: "<_submission_time>#<_id>" (the next pull asks for larger _id; edits are
    # found through meta/deprecatedID). Central: the newest submissionDate/updatedAt fully stored.
    cursor = models.CharField(max_length=64, blank=True)
    schedule_minutes = models.PositiveIntegerField(default=0)  # 0 = only on demand
    last_pulled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DigestCredential(models.Model):
    """HA1 = MD5(username:realm:password) for HTTP Digest (ODK Collect). Set with the password."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest")
    realm = models.CharField(max_length=100)
    ha1 = models.CharField(max_length=32)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"digest credential of user {self.user_id}"


class CentralSession(models.Model):
    """A bearer token issued by the Central-compatible /v1/sessions; only its SHA-256 is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    csrf = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"session of user {self.user_id}"

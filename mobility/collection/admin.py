"""Admin for the collection app: read-mostly. Forms are published and submissions stored through the
services (exactly once, with audit), never typed in here; pull-source credentials are never shown back."""

from django import forms
from django.contrib import admin

from .models import Binding, Form, FormVersion, MediaFile, PullSource, Submission, SubmissionConflict


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class FormVersionInline(admin.TabularInline):
    model = FormVersion
    extra = 0
    can_delete = False
    fields = ("version", "created_at", "created_by", "xml_md5")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Form)
class FormAdmin(admin.ModelAdmin):
    list_display = ("title", "xml_form_id", "operation", "state", "current_version")
    list_filter = ("state", "operation")
    search_fields = ("title", "xml_form_id")
    # The state and the version move through services (they are audited): see the collection pages.
    readonly_fields = ("operation", "xml_form_id", "current_version", "state")
    fields = ("operation", "xml_form_id", "title", "state", "current_version", "min_duration_seconds")
    inlines = [FormVersionInline]

    def has_add_permission(self, request):
        return False


class MediaInline(admin.TabularInline):
    model = MediaFile
    extra = 0
    can_delete = False
    readonly_fields = ("name", "file", "md5", "size_bytes", "content_type")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(FormVersion)
class FormVersionAdmin(ReadOnlyAdmin):
    list_display = ("form", "version", "created_at", "created_by")
    list_filter = ("form__operation",)
    search_fields = ("form__xml_form_id", "version")
    exclude = ("xml", "fields", "choices")
    inlines = [MediaInline]


@admin.register(Submission)
class SubmissionAdmin(ReadOnlyAdmin):
    list_display = ("instance_id", "form", "status", "enumerator", "submitted_at", "area_code")
    list_filter = ("status", "origin", "form__operation")
    search_fields = ("instance_id", "root_id")
    date_hierarchy = "submitted_at"
    list_select_related = ("form",)
    # The body and its values may hold personal data: the submission page shows them to those allowed.
    exclude = ("raw", "data", "corrections")


@admin.register(SubmissionConflict)
class SubmissionConflictAdmin(ReadOnlyAdmin):
    list_display = ("submission", "received_at", "resolution", "resolved_by")
    list_filter = ("resolution",)
    exclude = ("raw",)


@admin.register(Binding)
class BindingAdmin(ReadOnlyAdmin):
    list_display = ("form", "version", "target", "active", "created_at")
    list_filter = ("target", "active")


class PullSourceForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    credential = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Kobo API token, or Central email:password / token. Leave empty to keep the stored one.",
    )

    class Meta:
        model = PullSource
        fields = (
            "name",
            "operation",
            "kind",
            "url",
            "credential",
            "remote_form",
            "remote_project",
            "form",
            "schedule_minutes",
        )

    def clean_credential(self):
        given = self.cleaned_data.get("credential", "")
        return given or (self.instance.credential if self.instance.pk else "")


@admin.register(PullSource)
class PullSourceAdmin(admin.ModelAdmin):
    form = PullSourceForm
    list_display = ("name", "kind", "operation", "form", "last_pulled_at", "schedule_minutes")
    list_filter = ("kind", "operation")
    readonly_fields = ("cursor", "last_pulled_at", "last_error", "last_counts")

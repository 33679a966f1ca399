"""Forms of the registration pages.

The household form and the member formset only *collect* text: their field names are the columns
of the registration template (``records.TEMPLATE_COLUMNS``), and the checking is done by
``records.individual_parse`` / ``records.household_parse`` and ``services.households_write``, so a
mistake typed in the page gets the same error as the same mistake in an imported file.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _

from mobility.core.imports import RowError
from mobility.core.models import PopulationGroup

from .models import Household, IdentityDocument, Individual, RecordStatus, Relationship, Sex
from .records import (
    CONSENT_SCOPES,
    HOUSEHOLD_COLUMNS,
    SPECIFIC_NEEDS,
    WG_DOMAINS,
    household_parse,
    individual_parse,
)
from .selectors import HouseholdFilter
from .services import HouseholdBatchItem

WG_CHOICES = [
    ("", "—"),
    ("1", _("1 · No difficulty")),
    ("2", _("2 · Some difficulty")),
    ("3", _("3 · A lot of difficulty")),
    ("4", _("4 · Cannot do at all")),
]
WG_LABELS = {
    "seeing": _("Seeing, even with glasses"),
    "hearing": _("Hearing, even with a hearing aid"),
    "walking": _("Walking or climbing steps"),
    "cognition": _("Remembering or concentrating"),
    "selfcare": _("Self-care (washing, dressing)"),
    "communication": _("Communicating in the usual language"),
}
NEED_LABELS = {
    "unaccompanied_child": _("Unaccompanied child"),
    "separated_child": _("Separated child"),
    "single_parent": _("Single parent"),
    "older_person_at_risk": _("Older person at risk"),
    "disability": _("Disability"),
    "serious_medical_condition": _("Serious medical condition"),
    "pregnant_or_lactating": _("Pregnant or lactating"),
    "woman_at_risk": _("Woman at risk"),
    "survivor_of_violence": _("Survivor of violence"),
    "legal_protection_need": _("Legal or physical protection need"),
}
SCOPE_LABELS = {
    "registration": _("Registration"),
    "assistance": _("Assistance"),
    "referral": _("Referral to services"),
    "contact": _("Being contacted"),
    "data_sharing": _("Sharing with partners"),
}
REFERENCE_TAKEN = _("household {reference} is already registered; open it to correct it")
REFERENCE_CHARACTERS = _("use letters, digits, dashes, dots or underscores only")


class _AnyChoices(forms.MultipleChoiceField):
    """Checkboxes whose values the parser checks (so a wrong value gets the file import's error)."""

    def valid_value(self, value):
        return True


class _Text(forms.CharField):
    def __init__(self, label, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(label=label, **kwargs)


def _select(label, choices, **kwargs):
    return _Text(label, widget=forms.Select(choices=[("", "—"), *choices]), **kwargs)


class HouseholdForm(forms.Form):
    """The household columns of the registration template."""

    household_id = _Text(
        _("Household reference"),
        max_length=64,
        help_text=_("The number on the registration card; leave empty to have one given."),
    )
    household_size = _Text(
        _("Household size"), widget=forms.NumberInput(attrs={"min": 1, "max": 100, "inputmode": "numeric"})
    )
    location_pcode = _Text(
        _("Current location (p-code)"),
        max_length=32,
        help_text=_("Type a place name or a p-code."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "dir": "ltr"}),
    )
    site_code = _select(_("Site"), [])
    origin_pcode = _Text(
        _("Place of origin (p-code)"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "off", "dir": "ltr"}),
    )
    displacement_date = _Text(_("Date of displacement"), widget=forms.DateInput(attrs={"type": "date"}))
    population_group = _Text(
        _("Population group"),
        widget=forms.Select(choices=PopulationGroup.choices),
        initial=PopulationGroup.IDP,
    )
    specific_needs = _AnyChoices(
        label=_("Specific needs"),
        required=False,
        choices=[(n, NEED_LABELS.get(n, n)) for n in SPECIFIC_NEEDS],
        widget=forms.CheckboxSelectMultiple,
    )
    phone = _Text(
        _("Contact phone"), max_length=30, widget=forms.TextInput(attrs={"inputmode": "tel", "dir": "ltr"})
    )
    address = _Text(_("Address or directions"), max_length=300)
    consent = forms.BooleanField(label=_("Consent given"), required=False)
    consent_scope = _AnyChoices(
        label=_("Consent covers"),
        required=False,
        choices=[(s, SCOPE_LABELS.get(s, s)) for s in CONSENT_SCOPES],
        widget=forms.CheckboxSelectMultiple,
    )
    registered_on = _Text(_("Registered on"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, sites=(), fixed_reference: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site_code"].widget.choices = [
            ("", "—"),
            *((s.code, f"{s.name} ({s.code})") for s in sites),
        ]
        self.fixed_reference = fixed_reference
        if fixed_reference:
            self.fields["household_id"].disabled = True
            self.fields["household_id"].help_text = ""

    def cells(self) -> dict[str, str]:
        """The template cells this form fills (lists joined as in a file)."""
        data = self.cleaned_data
        cells = {}
        for column in HOUSEHOLD_COLUMNS:
            value = data.get(column)
            if column in ("specific_needs", "consent_scope"):
                value = ";".join(value or [])
            elif column == "consent":
                value = "yes" if value else "no"
            cells[column] = "" if value is None else str(value)
        cells["household_id"] = self.fixed_reference or (data.get("household_id") or "").strip()
        return cells


class MemberForm(forms.Form):
    """One person: the individual columns of the registration template."""

    individual_id = forms.CharField(required=False, widget=forms.HiddenInput)
    given_name = _Text(_("Given name"), max_length=200)
    family_name = _Text(_("Family name"), max_length=200)
    other_names = _Text(
        _("Other names or spellings"), max_length=300, help_text=_("Separate several with a semicolon.")
    )
    relationship = _select(_("Relationship to head"), Relationship.choices)
    sex = _select(_("Sex"), Sex.choices)
    date_of_birth = _Text(_("Date of birth"), widget=forms.DateInput(attrs={"type": "date"}))
    age = _Text(
        _("or age in years"), widget=forms.NumberInput(attrs={"min": 0, "max": 120, "inputmode": "numeric"})
    )
    dob_estimated = forms.BooleanField(label=_("Estimated"), required=False)
    wg_seeing = _select(WG_LABELS["seeing"], WG_CHOICES[1:])
    wg_hearing = _select(WG_LABELS["hearing"], WG_CHOICES[1:])
    wg_walking = _select(WG_LABELS["walking"], WG_CHOICES[1:])
    wg_cognition = _select(WG_LABELS["cognition"], WG_CHOICES[1:])
    wg_selfcare = _select(WG_LABELS["selfcare"], WG_CHOICES[1:])
    wg_communication = _select(WG_LABELS["communication"], WG_CHOICES[1:])
    document_type = _select(_("Identity document"), IdentityDocument.Type.choices)
    document_number = _Text(
        _("Document number"),
        max_length=60,
        widget=forms.TextInput(attrs={"dir": "ltr", "autocomplete": "off"}),
    )

    WG_FIELDS = [f"wg_{d}" for d in WG_DOMAINS]

    def cells(self) -> dict[str, str]:
        data = self.cleaned_data
        cells = {name: "" if data.get(name) is None else str(data.get(name)) for name in self.fields}
        cells["dob_estimated"] = "yes" if data.get("dob_estimated") else ""
        return cells

    def wg_fields(self):
        return [self[name] for name in self.WG_FIELDS]

    def has_disability_answer(self) -> bool:
        return any(self[name].value() for name in self.WG_FIELDS)


MemberFormSet = forms.formset_factory(MemberForm, extra=0, max_num=100, absolute_max=100)


def member_initial(person: Individual) -> dict:
    """A stored person as form values (decrypted: only for users who may correct them)."""
    document = person.documents.order_by("doc_type").first()
    values = {
        "individual_id": person.reference,
        "given_name": person.given_name,
        "family_name": person.family_name,
        "other_names": "; ".join(person.other_names or []),
        "relationship": person.relationship,
        "sex": person.sex,
        "date_of_birth": person.date_of_birth,
        "dob_estimated": person.dob_estimated,
        "document_type": document.doc_type if document else "",
        "document_number": document.number if document else "",
    }
    for domain, answer in (person.disability or {}).items():
        values[f"wg_{domain}"] = str(answer)
    return values


def household_initial(household: Household) -> dict:
    return {
        "household_id": household.reference,
        "household_size": household.size,
        "location_pcode": household.location_pcode,
        "site_code": household.site.code if household.site_id else "",
        "origin_pcode": household.origin_pcode,
        "displacement_date": household.displacement_date.isoformat() if household.displacement_date else "",
        "population_group": household.population_group,
        "specific_needs": list(household.specific_needs or []),
        "phone": household.phone,
        "address": household.address,
        "consent": household.consent,
        "consent_scope": list(household.consent_scope or []),
        "registered_on": household.registered_on.isoformat() if household.registered_on else "",
    }


def registration_batch(
    household_form: HouseholdForm,
    members: MemberFormSet,
    *,
    reference: str,
    member_reference,
    today: dt.date,
) -> tuple[HouseholdBatchItem | None, list[RowError]]:
    """Parse the bound forms as template rows: member n is row n; the household is row 1 (the head's)."""
    errors: list[RowError] = []
    household_cells = household_form.cells()
    household_cells["household_id"] = reference
    household, problems = household_parse(household_cells, row=1, today=today)
    errors += problems
    people = []
    for index, form in enumerate(members.forms):
        if not form.cleaned_data or not (form.cleaned_data.get("individual_id") or form.has_changed()):
            continue  # an untouched empty row
        cells = form.cells()
        cells["household_id"] = reference
        cells["individual_id"] = cells["individual_id"] or member_reference(index)
        person, problems = individual_parse(cells, row=index + 1, today=today)
        errors += problems
        if person is not None:
            people.append(person)
    if errors:
        return None, errors
    return HouseholdBatchItem(household=household, members=people), []


def errors_attach(errors: list[RowError], household_form: HouseholdForm, members: MemberFormSet) -> None:
    """Show each row error on its field: household columns on the household form, the rest on member n."""
    for error in errors:
        message = str(error.message)
        if error.column in household_form.fields and error.column != "household_id":
            household_form.add_error(error.column, message)
        elif error.column in ("household_id", "") or error.row is None:
            household_form.add_error(None, message)
        elif 1 <= error.row <= len(members.forms):
            form = members.forms[error.row - 1]
            field = error.column if error.column in form.fields and error.column != "individual_id" else None
            form.add_error(field, message)
        else:
            household_form.add_error(None, message)


class HouseholdFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Reference, phone, document number or full name")}
        ),
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *RecordStatus.choices]
    )
    site = forms.ChoiceField(label=_("Site"), required=False, choices=[("", _("Any site"))])
    admin2 = forms.ChoiceField(
        label=_("District (admin 2)"), required=False, choices=[("", _("Any district"))]
    )

    def __init__(self, *args, sites=(), admin2_codes=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = [
            ("", _("Any site")),
            *((s.code, f"{s.name} ({s.code})") for s in sites),
        ]
        self.fields["admin2"].choices = [("", _("Any district")), *((c, c) for c in admin2_codes)]

    def filters(self) -> HouseholdFilter:
        data = self.cleaned_data if self.is_valid() else {}
        return HouseholdFilter(
            query=data.get("q", ""),
            status=data.get("status", ""),
            site=data.get("site", ""),
            admin2_code=data.get("admin2", ""),
        )


class PairDecisionForm(forms.Form):
    DECISIONS = [
        ("duplicate", _("Duplicate")),
        ("not_duplicate", _("Not a duplicate")),
        ("merge_left", _("Merge into the left record")),
        ("merge_right", _("Merge into the right record")),
    ]
    decision = forms.ChoiceField(choices=DECISIONS)

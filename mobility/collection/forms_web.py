"""The Django forms of the collection pages (not XLSForms: those are in xforms.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pydantic
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mobility.core.permissions import Action, operations_for

from .models import Binding, Form, FormVersion, Submission, SubmissionConflict

XLSFORM_SUFFIXES = (".xlsx", ".xls", ".xlsm")

# pyxform writes "[row : 5] On the 'choices' sheet, ..." or "[row : 5] ..." (the survey sheet).
_FILE_PREFIX = re.compile(r"^(?P<file>[^:\n]+\.(?:xlsx|xlsm|xls|csv|md)):\s*", re.IGNORECASE)
_ROW = re.compile(r"\[row\s*:\s*(?P<row>\d+)\]\s*")
_SHEET = re.compile(r"(?:On|In) the '(?P<sheet>[\w-]+)' sheet")


@dataclass
class Problem:
    """One pyxform error or warning, placed on its sheet and row when pyxform says where."""

    text: str
    sheet: str = ""
    row: int | None = None
    file: str = ""


def pyxform_problem(message: str) -> Problem:
    text = message.strip()
    file = ""
    prefix = _FILE_PREFIX.match(text)
    if prefix:
        file, text = prefix.group("file"), text[prefix.end() :]
    row = None
    found = _ROW.search(text)
    if found:
        row = int(found.group("row"))
        text = (text[: found.start()] + text[found.end() :]).strip()
    sheet_match = _SHEET.search(text)
    sheet = sheet_match.group("sheet") if sheet_match else ""
    if row is not None and not sheet:
        sheet = "survey"
    return Problem(text=text, sheet=sheet, row=row, file=file)


def pyxform_problems(messages: list[str]) -> list[Problem]:
    """pyxform joins some warnings with new lines: one problem per line."""
    return [
        pyxform_problem(line) for message in messages for line in str(message).splitlines() if line.strip()
    ]


class XLSFormUploadForm(forms.Form):
    operation = forms.ChoiceField(label=gettext_lazy("Operation"))
    file = forms.FileField(
        label=gettext_lazy("XLSForm"),
        help_text=gettext_lazy("An .xlsx workbook with survey, choices and settings sheets."),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.xls,.xlsm"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.operations = {str(op.pk): op for op in operations_for(user, Action.IMPORT).order_by("name")}
        self.fields["operation"].choices = [(pk, op.name) for pk, op in self.operations.items()]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(XLSFORM_SUFFIXES):
            raise ValidationError(
                _("An XLSForm is an Excel workbook (.xlsx); %(name)s is not one.") % {"name": upload.name}
            )
        return upload

    def clean(self):
        data = super().clean()
        data["operation_obj"] = self.operations.get(data.get("operation") or "")
        return data


class MediaUploadForm(forms.Form):
    version = forms.ModelChoiceField(queryset=FormVersion.objects.none(), label=gettext_lazy("Version"))
    file = forms.FileField(label=gettext_lazy("File"))
    name = forms.CharField(
        label=gettext_lazy("Name in the form"),
        required=False,
        max_length=255,
        help_text=gettext_lazy("Leave empty to keep the file's own name."),
    )

    def __init__(self, *args, form: Form, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = form.versions.all()
        self.fields["version"].label_from_instance = lambda v: v.version
        if form.current_version_id:
            self.fields["version"].initial = form.current_version_id

    def media_name(self) -> str:
        return (self.cleaned_data.get("name") or "").strip() or self.cleaned_data["file"].name


class FormStateForm(forms.Form):
    state = forms.ChoiceField(label=gettext_lazy("State"), choices=Form.State.choices)


STATUS_CHOICES = [("", gettext_lazy("Any")), *[(value, label) for value, label in Submission.Status.choices]]
ANY_FLAG, NO_FLAG = "any", "none"


class SubmissionFilterForm(forms.Form):
    """The submission browser's filters; the names are those of exports.SubmissionFilter (API and CLI alike)."""

    date_from = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    enumerator = forms.ChoiceField(label=gettext_lazy("Enumerator"), required=False)
    area_code = forms.CharField(
        label=gettext_lazy("Area (p-code)"),
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"placeholder": "MZ0101", "size": 10}),
    )
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False, choices=STATUS_CHOICES)
    flag = forms.ChoiceField(label=gettext_lazy("Quality flag"), required=False)
    include_superseded = forms.BooleanField(label=gettext_lazy("With replaced versions"), required=False)

    def __init__(self, *args, enumerators: list[str], flag_codes: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        chosen = (self.data.get("enumerator") or "") if self.is_bound else ""
        names = enumerators + ([chosen] if chosen and chosen not in enumerators else [])
        self.fields["enumerator"].choices = [("", _("Everyone"))] + [(name, name) for name in names]
        flag = (self.data.get("flag") or "") if self.is_bound else ""
        codes = dict(sorted(flag_codes.items()))
        if flag and flag not in (ANY_FLAG, NO_FLAG):
            codes.setdefault(flag, flag)
        self.fields["flag"].choices = [
            ("", _("Any or none")),
            (ANY_FLAG, _("Flagged")),
            (NO_FLAG, _("Not flagged")),
            *[(code, code) for code in codes],
        ]
        self.flag_help = codes

    def clean_area_code(self):
        return (self.cleaned_data.get("area_code") or "").strip().upper()

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError(_("The start date is after the end date."))
        return data

    def filters(self):
        """The exports.SubmissionFilter the form asks for; an invalid form filters nothing out (its errors show)."""
        from .exports import SubmissionFilter

        if not self.is_valid():
            return SubmissionFilter()
        data = {key: value for key, value in self.cleaned_data.items() if value not in (None, "", False)}
        try:
            return SubmissionFilter(**data)
        except (ValueError, pydantic.ValidationError):
            return SubmissionFilter()


def filter_params(filters) -> dict[str, str]:
    """The filter as query parameters (defaults left out), for links, the map and the export buttons."""
    out = {}
    for key, value in filters.model_dump(exclude_defaults=True).items():
        if value is None or value is False or value == "":
            continue
        out[key] = "on" if value is True else value.isoformat() if hasattr(value, "isoformat") else str(value)
    return out


EXPORT_FORMATS = [("csv", "CSV"), ("xlsx", "XLSX")]


class ConflictResolveForm(forms.Form):
    resolution = forms.ChoiceField(
        choices=[
            (SubmissionConflict.Resolution.KEPT_STORED, gettext_lazy("Keep the stored submission")),
            (SubmissionConflict.Resolution.REPLACED, gettext_lazy("Replace it with this body")),
        ]
    )


# Field types a data manager may correct by hand (not groups, repeats, files or computed metadata).
CORRECTABLE_TYPES = {
    "text",
    "integer",
    "decimal",
    "select one",
    "select all that apply",
    "select_one",
    "select_multiple",
    "date",
    "datetime",
    "time",
    "geopoint",
    "barcode",
    "calculate",
    "hidden",
    "",
}


def _correctable(field: dict, allowed_personal: bool) -> bool:
    if field.get("type") not in CORRECTABLE_TYPES or field["path"].startswith("meta/"):
        return False
    return allowed_personal or not field.get("personal")


@dataclass
class CorrectionItem:
    key: str  # what processing.submission_correct takes: "grp/q", or "rpt[2]/q" in a repeat entry
    label: str
    current: str


def correction_items(
    version: FormVersion | None, values: dict, *, label, allowed_personal: bool
) -> list[CorrectionItem]:
    """The values a data manager may correct by hand, repeat entries included (not files or groups)."""
    fields = version.fields if version else []
    items = []
    for field in fields:
        path = field["path"]
        if field.get("type") == "repeat" and not field.get("repeat"):
            inner = [f for f in fields if f.get("repeat") == path and _correctable(f, allowed_personal)]
            entries = values.get(path)
            for n, entry in enumerate(entries if isinstance(entries, list) else [], start=1):
                for f in inner:
                    current = entry.get(f["path"], "") if isinstance(entry, dict) else ""
                    if isinstance(current, list | dict):
                        continue
                    items.append(
                        CorrectionItem(
                            key=f"{path}[{n}]/{f['path'][len(path) + 1 :]}",
                            label=f"{label(f)} ({field['name']} #{n})",
                            current=str(current),
                        )
                    )
            continue
        if field.get("repeat") or not _correctable(field, allowed_personal):
            continue
        current = values.get(path, "")
        if not isinstance(current, list | dict):
            items.append(CorrectionItem(key=path, label=label(field), current=str(current)))
    return items


class CorrectionForm(forms.Form):
    """One text box per correctable value; only the boxes whose value changed become corrections."""

    def __init__(self, *args, items: list[CorrectionItem], **kwargs):
        super().__init__(*args, **kwargs)
        self.items: dict[str, CorrectionItem] = {}
        for n, item in enumerate(items):
            name = f"v{n}"
            self.items[name] = item
            self.fields[name] = forms.CharField(
                label=item.label, required=False, initial=item.current, max_length=2000, help_text=item.key
            )

    def corrections(self) -> dict[str, str]:
        """{path: new value} for the values the data manager changed."""
        out = {}
        for name, item in self.items.items():
            new = (self.cleaned_data.get(name) or "").strip()
            if new != item.current.strip():
                out[item.key] = new
        return out


class BindingForm(forms.Form):
    """The target and its mapping (target column → form field), plus constants such as the round."""

    target = forms.ChoiceField(label=gettext_lazy("Target"), choices=Binding.Target.choices)
    EXTRA_ROWS = 3

    def __init__(self, *args, fields: list[dict], binding: Binding | None, **kwargs):
        super().__init__(*args, **kwargs)
        paths = [("", "—")] + [(f["path"], f["path"]) for f in fields if f.get("type") != "repeat"]
        mapping = dict(binding.mapping) if binding else {}
        constants = dict(binding.constants) if binding else {}
        if self.is_bound:  # as many rows as the page sent
            mapping = {f"_{n}": self.data.get(f"path_{n}", "") for n in range(self._rows_sent("column_"))}
            constants = {f"_{n}": "" for n in range(self._rows_sent("const_column_"))}
        extra = 0 if self.is_bound else self.EXTRA_ROWS
        if binding:
            self.fields["target"].initial = binding.target
        self.mapping_rows = []
        for n, (column, path) in enumerate([*mapping.items(), *[("", "")] * extra]):
            self.fields[f"column_{n}"] = forms.CharField(
                required=False,
                initial=column,
                max_length=100,
                widget=forms.TextInput(attrs={"list": "binding-columns", "aria-label": _("Target column")}),
            )
            self.fields[f"path_{n}"] = forms.ChoiceField(
                required=False,
                initial=path,
                choices=paths if path in dict(paths) else [*paths, (path, path)],
                widget=forms.Select(attrs={"aria-label": _("Form field")}),
            )
            self.mapping_rows.append((self[f"column_{n}"], self[f"path_{n}"]))
        self.constant_rows = []
        for n, (column, value) in enumerate([*constants.items(), *[("", "")] * extra]):
            self.fields[f"const_column_{n}"] = forms.CharField(
                required=False,
                initial=column,
                max_length=100,
                widget=forms.TextInput(attrs={"list": "binding-columns", "aria-label": _("Constant column")}),
            )
            self.fields[f"const_value_{n}"] = forms.CharField(
                required=False,
                initial=value,
                max_length=255,
                widget=forms.TextInput(attrs={"aria-label": _("Value")}),
            )
            self.constant_rows.append((self[f"const_column_{n}"], self[f"const_value_{n}"]))

    def _rows_sent(self, prefix: str) -> int:
        numbers = [key[len(prefix) :] for key in self.data if key.startswith(prefix)]
        return max((int(n) + 1 for n in numbers if n.isdigit()), default=0)

    def _pairs(self, left: str, right: str, rows: int) -> dict[str, str]:
        out = {}
        for n in range(rows):
            column = (self.cleaned_data.get(f"{left}{n}") or "").strip()
            value = (self.cleaned_data.get(f"{right}{n}") or "").strip()
            if column and value:
                out[column] = value
            elif column or value:
                raise ValidationError(
                    _("Row %(n)s: give both the column and its value, or neither.") % {"n": n + 1}
                )
        return out

    def clean(self):
        data = super().clean()
        data["mapping"] = self._pairs("column_", "path_", len(self.mapping_rows))
        data["constants"] = self._pairs("const_column_", "const_value_", len(self.constant_rows))
        return data

"""Flow surveys: individual interviews at an FMP, parsed from a row and written idempotently.

A survey row has the coded fields Mobility aggregates (sex, age, nationality, route, reason,
intended duration, transport, group size, needs) and any other questionnaire column, kept under
``answers`` for members of the operation. Names, phone numbers and other contacts are never
accepted: a column that looks like one refuses the whole file before anything is read
(``personal_columns``), so an interview cannot leak into the registry by accident.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from mobility.core.imports import Counts, RowError
from mobility.core.models import Operation

from .models import (
    Direction,
    FlowMonitoringPoint,
    FlowSurvey,
    IntendedDuration,
    MovementReason,
    TransportMode,
)
from .profiles import country_code, value_key

SURVEY_COLUMNS = [
    "record_id",
    "fmp_code",
    "date",
    "direction",
    "sex",
    "age",
    "nationality",
    "from_country",
    "from_admin1",
    "to_country",
    "to_admin1",
    "reason",
    "intended_duration",
    "transport",
    "travelling_with",
    "needs",
]
SURVEY_REQUIRED = ["record_id", "fmp_code", "date"]
SURVEY_FIELDS = [c for c in SURVEY_COLUMNS if c not in ("record_id", "fmp_code")] + ["answers"]

PERSONAL_COLUMN = _(
    'Column "{column}" looks like {what}; flow surveys keep no names or contacts. Remove the column and send the file again.'
)
PERSONAL_VALUES = _(
    'Column "{column}" holds phone numbers; flow surveys keep no contacts. Remove the column and send the file again.'
)
ROW_REQUIRED = _("is required")
ROW_FMP_UNKNOWN = _("is not a flow monitoring point of this operation")
ROW_BAD_DATE = _("is not a date (write YYYY-MM-DD or DD/MM/YYYY)")
ROW_NOT_WHOLE = _("is not a whole number")
ROW_OUT_OF_RANGE = _("is outside {low}..{high}")
ROW_NOT_CHOICE = _("is not one of: {allowed}")
ROW_COUNTRY = _("is not a country (give its ISO3 code, e.g. MOZ)")
ROW_RECORD_TWICE = _("record {record_id} at {fmp} is already on row {first}")
ROW_PCODE_UNKNOWN = _("is not an admin 1 p-code of {country} in the current gazetteer")

_NAME_WORDS = {
    "name",
    "names",
    "surname",
    "firstname",
    "lastname",
    "fullname",
    "nome",
    "apelido",
    "nom",
    "prenom",
}
_CONTACT_WORDS = {
    "phone",
    "telephone",
    "tel",
    "mobile",
    "cellphone",
    "msisdn",
    "whatsapp",
    "email",
    "mail",
    "contact",
    "contacts",
    "passport",
    "address",
}
_PLACE_WORDS = {
    "fmp",
    "site",
    "admin1",
    "admin2",
    "admin3",
    "location",
    "country",
    "place",
    "village",
    "town",
    "city",
    "district",
    "province",
    "region",
    "point",
    "team",
    "form",
}
_PHONE = re.compile(r"^\+?[\d][\d\s\-().]{7,}\d$")

SEX_WORDS = {
    "f": "f",
    "female": "f",
    "woman": "f",
    "w": "f",
    "m": "m",
    "male": "m",
    "man": "m",
    "mulher": "f",
    "homem": "m",
}


def personal_columns(columns: Iterable[str]) -> list[str]:
    """Messages for the columns whose header says name, phone, e-mail or contact (not a place's name)."""
    messages = []
    for column in columns:
        words = set(re.split(r"[^a-z0-9]+", value_key(column).replace(" ", "_")))
        if words & _PLACE_WORDS:
            continue
        if words & _NAME_WORDS:
            messages.append(str(PERSONAL_COLUMN.format(column=column, what=_("a person's name"))))
        elif words & _CONTACT_WORDS:
            messages.append(str(PERSONAL_COLUMN.format(column=column, what=_("a phone number or contact"))))
    return messages


def looks_like_phone(text: str) -> bool:
    digits = re.sub(r"\D", "", text or "")
    return bool(_PHONE.match((text or "").strip())) and 8 <= len(digits) <= 15


def choice_parse(text: str, choices: list[tuple[str, str]]) -> str | None:
    """A code from its code or its label, ignoring case and accents ("Bus / truck" → bus)."""
    key = value_key(text)
    for value, label in choices:
        if key in (value_key(value), value_key(str(label))):
            return value
        if key and key == value_key(str(label).split("/")[0]):
            return value
    return None


def _whole(text: str, low: int, high: int, column: str, row: int, errors: list[RowError]) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        errors.append(RowError(row, column, str(ROW_NOT_WHOLE), text))
        return None
    if not value.is_integer():
        errors.append(RowError(row, column, str(ROW_NOT_WHOLE), text))
        return None
    if not low <= value <= high:
        errors.append(RowError(row, column, str(ROW_OUT_OF_RANGE.format(low=low, high=high)), text))
        return None
    return int(value)


def survey_parse(
    raw: dict[str, str], *, row: int, fmps: dict[str, int], gazetteers=None
) -> tuple[dict | None, list[RowError]]:
    """FlowSurvey field values (with ``fmp_id``) from a row of survey columns, or the row's errors.

    Columns outside SURVEY_COLUMNS go to ``answers`` (empty cells left out).
    """
    from mobility.tracking.importers.events import parse_date

    errors: list[RowError] = []
    get = lambda c: (raw.get(c) or "").strip()  # noqa: E731
    for column in SURVEY_REQUIRED:
        if not get(column):
            errors.append(RowError(row, column, str(ROW_REQUIRED)))
    values: dict = {"record_id": get("record_id")[:64]}
    code = get("fmp_code")
    if code:
        fmp_id = fmps.get(code) or fmps.get(code.upper())
        if fmp_id is None:
            errors.append(RowError(row, "fmp_code", str(ROW_FMP_UNKNOWN), code))
        values["fmp_id"] = fmp_id
    if get("date"):
        try:
            values["date"] = parse_date(get("date"))
        except ValueError:
            errors.append(RowError(row, "date", str(ROW_BAD_DATE), get("date")))
    coded = {
        "direction": (Direction.choices, ""),
        "reason": (MovementReason.choices, MovementReason.UNKNOWN),
        "intended_duration": (IntendedDuration.choices, IntendedDuration.UNKNOWN),
        "transport": (TransportMode.choices, TransportMode.UNKNOWN),
    }
    for column, (choices, default) in coded.items():
        text = get(column)
        if not text:
            values[column] = default
            continue
        found = choice_parse(text, choices)
        if found is None and column == "direction":
            found = {"entry": "in", "entering": "in", "exit": "out", "leaving": "out"}.get(value_key(text))
        if found is None:
            errors.append(
                RowError(
                    row, column, str(ROW_NOT_CHOICE.format(allowed=", ".join(v for v, _l in choices))), text
                )
            )
        values[column] = found or default
    sex = get("sex")
    values["sex"] = SEX_WORDS.get(value_key(sex), "") if sex else ""
    if sex and not values["sex"]:
        errors.append(RowError(row, "sex", str(ROW_NOT_CHOICE.format(allowed="f, m")), sex))
    values["age"] = _whole(get("age"), 0, 120, "age", row, errors)
    values["travelling_with"] = _whole(get("travelling_with"), 0, 500, "travelling_with", row, errors)
    for column in ("nationality", "from_country", "to_country"):
        text = get(column)
        values[column] = country_code(text) or "" if text else ""
        if text and not values[column]:
            errors.append(RowError(row, column, str(ROW_COUNTRY), text))
    for column, country_column in (("from_admin1", "from_country"), ("to_admin1", "to_country")):
        pcode = get(column).upper()
        values[column] = pcode
        country = values.get(country_column)
        gazetteer = gazetteers.get(country) if (gazetteers and pcode and country) else None
        if gazetteer is not None:
            found = gazetteer.lookup(pcode)
            if found is None or gazetteer.levels.get(found) != 1:
                errors.append(RowError(row, column, str(ROW_PCODE_UNKNOWN.format(country=country)), pcode))
            else:
                values[column] = found
    values["needs"] = [
        "_".join(part.strip().lower().split()) for part in re.split(r"[;,]", get("needs")) if part.strip()
    ]
    values["answers"] = {
        column: text.strip()
        for column, text in raw.items()
        if column not in SURVEY_COLUMNS and column and (text or "").strip()
    }
    if errors:
        return None, errors
    return values, []


@transaction.atomic
def surveys_write(*, operation: Operation, rows: Iterable[dict], job=None, progress=None) -> Counts:
    """Upsert surveys on (FMP, record id) with full_clean: a re-import updates, never duplicates."""
    rows = list(rows)
    existing = {
        (s.fmp_id, s.record_id): s
        for s in FlowSurvey.objects.filter(
            operation=operation,
            fmp_id__in={r["fmp_id"] for r in rows},
            record_id__in={r["record_id"] for r in rows},
        )
    }
    counts = Counts()
    for values in rows:
        key = (values["fmp_id"], values["record_id"])
        survey = existing.get(key)
        fields = {f: values[f] for f in SURVEY_FIELDS}
        if survey is None:
            survey = FlowSurvey(operation=operation, fmp_id=key[0], record_id=key[1], job=job, **fields)
            counts.created += 1
        elif all(getattr(survey, f) == v for f, v in fields.items()):
            counts.unchanged += 1
            if progress is not None:
                progress.advance()
            continue
        else:
            for f, v in fields.items():
                setattr(survey, f, v)
            survey.job = job
            counts.updated += 1
        try:
            survey.full_clean(exclude=["job"])
        except ValidationError as exc:
            raise ValidationError(f"survey {key[1]}: " + "; ".join(exc.messages)) from exc
        survey.save()
        existing[key] = survey
        if progress is not None:
            progress.advance()
    counts.summary = {"operation": operation.pk, "surveys": len(rows)}
    return counts


def fmp_ids(operation: Operation) -> dict[str, int]:
    """The operation's FMP codes → ids (as given and upper-cased), for the row parsers."""
    pairs = FlowMonitoringPoint.objects.filter(operation=operation).values_list("code", "pk")
    out = {}
    for code, pk in pairs:
        out[code] = pk
        out.setdefault(code.upper(), pk)
    return out

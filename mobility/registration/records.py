"""Parsing a registration row (one individual; household columns repeated or on the head's row).

``individual_parse`` and ``household_parse`` turn the text cells of one row into typed values or
row errors. An error names the row and the column and **never quotes a personal value** (names,
dates of birth, phone and document numbers): the error list is shown to officers, stored with the
import job and may be mailed around. Non-personal values (a p-code, a sex code) may be quoted.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from mobility.core.imports import RowError
from mobility.core.models import PopulationGroup

from .models import IdentityDocument, Relationship, Sex

INDIVIDUAL_COLUMNS = [
    "household_id",
    "individual_id",
    "relationship",
    "given_name",
    "family_name",
    "other_names",
    "sex",
    "date_of_birth",
    "age",
    "dob_estimated",
    "wg_seeing",
    "wg_hearing",
    "wg_walking",
    "wg_cognition",
    "wg_selfcare",
    "wg_communication",
    "document_type",
    "document_number",
]
HOUSEHOLD_COLUMNS = [
    "household_size",
    "location_pcode",
    "site_code",
    "origin_pcode",
    "displacement_date",
    "population_group",
    "specific_needs",
    "phone",
    "address",
    "consent",
    "consent_scope",
    "registered_on",
]
TEMPLATE_COLUMNS = INDIVIDUAL_COLUMNS + HOUSEHOLD_COLUMNS
REQUIRED_COLUMNS = ["household_id", "individual_id", "relationship", "sex"]
PERSONAL_COLUMNS = frozenset(
    {"given_name", "family_name", "other_names", "date_of_birth", "document_number", "phone", "address"}
)
WG_DOMAINS = ["seeing", "hearing", "walking", "cognition", "selfcare", "communication"]
CONSENT_SCOPES = ["registration", "assistance", "referral", "contact", "data_sharing"]
SPECIFIC_NEEDS = [
    "unaccompanied_child",
    "separated_child",
    "single_parent",
    "older_person_at_risk",
    "disability",
    "serious_medical_condition",
    "pregnant_or_lactating",
    "woman_at_risk",
    "survivor_of_violence",
    "legal_protection_need",
]
MAX_AGE = 120

ROW_REQUIRED = _("is required")
ROW_NOT_A_DATE = _("is not a date (use YYYY-MM-DD, or DD/MM/YYYY)")
ROW_DOB_FUTURE = _("is in the future")
ROW_DOB_TOO_OLD = _("gives an age over {max_age} years")
ROW_AGE_INVALID = _('"{value}" is not an age in years from 0 to {max_age}')
ROW_AGE_AND_DOB = _("disagrees with date_of_birth by more than a year")
ROW_CHOICE = _('"{value}" is not one of: {allowed}')
# Disability answers are health data: the message never quotes the cell.
ROW_WG = _("is not a Washington Group answer (1 no difficulty, 2 some, 3 a lot, 4 cannot do)")
ROW_DOC_TYPE_MISSING = _("is required when document_number is given")
ROW_NOT_PHONE = _("is not a phone number (8 to 15 digits, an optional leading +)")
ROW_SIZE = _('"{value}" is not a household size from 1 to 100')
ROW_YES_NO = _('"{value}" is not yes or no')
ROW_CONTROL_CHARS = _("holds control characters")
ROW_TOO_LONG = _("is longer than {limit} characters")
ROW_MIXED_SCRIPT = _("mixes scripts inside one word (e.g. Latin and Cyrillic letters): check the encoding")
ROW_MOJIBAKE = _(
    'looks garbled by a wrong encoding (e.g. "Ã©" for "é"): the file mixes encodings; '
    "save it again as CSV UTF-8"
)
ROW_NEED_UNKNOWN = _("holds a code that is not a specific need; use: {allowed}")
ROW_NO_NAME = _("is required (give a given or a family name)")

_TRUE = {"1", "yes", "y", "true", "sim", "oui", "نعم"}
_FALSE = {"0", "no", "n", "false", "não", "nao", "non", "لا"}
_PHONE = re.compile(r"^\+?[\d\s().-]{8,22}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
NAME_LIMIT = 100
ID_LIMIT = 64  # Household.reference and Individual.reference
# Text read in a wrong single-byte encoding turns UTF-8 sequences into these (ftfy's test, narrowed):
# encoding the text back and decoding it as UTF-8 succeeds only for such garbled text.
_MOJIBAKE_ENCODINGS = ("cp1252", "latin-1", "mac_roman", "cp1256")


@dataclass
class IndividualValues:
    reference: str
    household_reference: str
    relationship: str
    sex: str
    given_name: str = ""
    family_name: str = ""
    other_names: list[str] = field(default_factory=list)
    date_of_birth: str = ""  # ISO; year-only estimates are YYYY-07-01 with dob_estimated
    dob_estimated: bool = False
    birth_year: int | None = None
    disability: dict[str, int] = field(default_factory=dict)
    documents: list[tuple[str, str]] = field(default_factory=list)  # (type, number)
    row: int | None = None


@dataclass
class HouseholdValues:
    reference: str
    size: int | None = None
    location_pcode: str = ""
    site_code: str = ""
    origin_pcode: str = ""
    displacement_date: dt.date | None = None
    population_group: str = PopulationGroup.IDP
    specific_needs: list[str] = field(default_factory=list)
    phone: str = ""
    address: str = ""
    consent: bool = False
    consent_scope: list[str] = field(default_factory=list)
    registered_on: dt.date | None = None
    row: int | None = None


def _key(text: str) -> str:
    text = unicodedata.normalize("NFKD", str(text or "")).casefold().strip()
    return re.sub(r"[^a-z0-9]+", "_", "".join(c for c in text if not unicodedata.combining(c))).strip("_")


def _choice(text: str, choices, column: str, row, errors: list[RowError], *, personal=False) -> str | None:
    key = _key(text)
    for value, label in choices:
        if key in (_key(value), _key(str(label))):
            return value
    allowed = ", ".join(v for v, _label in choices)
    errors.append(
        RowError(row, column, str(ROW_CHOICE.format(value="" if personal else text, allowed=allowed)))
    )
    return None


def _choice_quiet(text: str, values: list[str]) -> str | None:
    key = _key(text)
    return next((v for v in values if key == _key(v)), None)


def date_parse(text: str) -> dt.date | None:
    """ISO dates, DD/MM/YYYY and DD-MM-YYYY (day first, as forms in our operations write them)."""
    text = (text or "").strip()
    if not text:
        return None
    text = text.split("T")[0].split(" ")[0]
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


_SCRIPTS = frozenset(
    "LATIN CYRILLIC GREEK ARABIC HEBREW ARMENIAN GEORGIAN DEVANAGARI BENGALI GURMUKHI GUJARATI TAMIL "
    "TELUGU KANNADA MALAYALAM SINHALA THAI LAO TIBETAN MYANMAR ETHIOPIC KHMER HANGUL HIRAGANA KATAKANA "
    "CJK SYRIAC THAANA TIFINAGH NKO".split()
)


def _scripts(word: str) -> set[str]:
    """The writing systems of a word's letters (signs such as "º" or "ª" belong to none)."""
    scripts = set()
    for ch in word:
        if ch.isalpha():
            script = unicodedata.name(ch, "").split(" ")[0]
            if script in _SCRIPTS:
                scripts.add(script)
    return scripts


def text_check(text: str, column: str, row, errors: list[RowError], *, limit: int = NAME_LIMIT) -> str:
    """Clean a free-text personal cell: NFC, single spaces; control characters and mixed scripts refused."""
    text = unicodedata.normalize("NFC", str(text or "")).strip()
    if _CONTROL.search(text):
        errors.append(RowError(row, column, str(ROW_CONTROL_CHARS)))
        return ""
    text = re.sub(r"\s+", " ", text)
    if len(text) > limit:
        errors.append(RowError(row, column, str(ROW_TOO_LONG.format(limit=limit))))
        return ""
    # Mojibake shows as one word mixing scripts (e.g. "MarÃ­a" is Latin only, but "Ð\x9cария" mixes).
    if looks_mojibake(text):
        errors.append(RowError(row, column, str(ROW_MOJIBAKE)))
        return ""
    for word in text.split(" "):
        if len(_scripts(word)) > 1:
            errors.append(RowError(row, column, str(ROW_MIXED_SCRIPT)))
            return ""
    return text


def looks_mojibake(text: str) -> bool:
    """True for text that is UTF-8 read in a single-byte encoding ("ConceiÃ§Ã£o", "Ù…Ø­Ù…Ø¯"),
    or holds the replacement character a failed decoding leaves."""
    if "\ufffd" in text:
        return True
    return any(_garbled(word) for word in text.split() if not word.isascii())


def _plausible(ch: str) -> bool:
    """A character garbled text of our operations decodes to: Latin with accents, Greek, Cyrillic,
    Arabic (with Persian and Urdu letters), punctuation."""
    o = ord(ch)
    return (
        o < 0x80
        or 0xA0 <= o <= 0x24F
        or 0x370 <= o <= 0x6FF
        or 0x750 <= o <= 0x77F
        or 0x1E00 <= o <= 0x1EFF
        or 0x2010 <= o <= 0x206F
        or o == 0x20AC
    )


def _garbled(word: str) -> bool:
    for encoding in _MOJIBAKE_ENCODINGS:
        try:
            repaired = word.encode(encoding).decode("utf-8")
        except UnicodeError:
            continue
        if repaired == word or not all(_plausible(c) for c in repaired):
            continue
        # Read as cp1256, an Arabic or Urdu word of letters only is what it seems ("شک" is also
        # valid UTF-8 bytes); UTF-8 Arabic read as cp1256 always shows signs ("ظ…ط­").
        if encoding == "cp1256" and all(unicodedata.category(c)[0] in "LM" for c in word):
            continue
        return True
    return False


def yes_no(text: str, column: str, row, errors: list[RowError]) -> bool | None:
    key = (text or "").strip().casefold()
    if not key:
        return None
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    errors.append(RowError(row, column, str(ROW_YES_NO.format(value=text[:20]))))
    return None


def individual_parse(
    raw: dict[str, str], *, row: int | None, today: dt.date
) -> tuple[IndividualValues | None, list[RowError]]:
    errors: list[RowError] = []
    cell = {
        k: (v or "").strip() if isinstance(v, str) else ("" if v is None else str(v)) for k, v in raw.items()
    }
    for column in ("household_id", "individual_id", "relationship", "sex"):
        if not cell.get(column):
            errors.append(RowError(row, column, str(ROW_REQUIRED)))
    if len(cell.get("individual_id", "")) > ID_LIMIT:
        errors.append(RowError(row, "individual_id", str(ROW_TOO_LONG.format(limit=ID_LIMIT))))
    relationship = (
        _choice(cell["relationship"], Relationship.choices, "relationship", row, errors)
        if cell.get("relationship")
        else None
    )
    sex = (
        _choice(
            cell["sex"],
            Sex.choices
            + [
                ("f", "f"),
                ("m", "m"),
                ("f", "female"),
                ("m", "male"),
                ("f", "feminino"),
                ("m", "masculino"),
                ("f", "femme"),
                ("m", "homme"),
            ],
            "sex",
            row,
            errors,
        )
        if cell.get("sex")
        else None
    )
    given = text_check(cell.get("given_name", ""), "given_name", row, errors)
    family = text_check(cell.get("family_name", ""), "family_name", row, errors)
    if not given and not family and not any(e.column in ("given_name", "family_name") for e in errors):
        errors.append(RowError(row, "given_name", str(ROW_NO_NAME)))
    others = [
        text_check(part, "other_names", row, errors)
        for part in re.split(r"[;|]", cell.get("other_names", ""))
        if part.strip()
    ]
    estimated = bool(yes_no(cell.get("dob_estimated", ""), "dob_estimated", row, errors))
    dob: dt.date | None = None
    if cell.get("date_of_birth"):
        text = cell["date_of_birth"]
        if re.fullmatch(r"[0-9]{4}", text):  # a year only: an estimate
            if int(text) < 1:
                errors.append(RowError(row, "date_of_birth", str(ROW_NOT_A_DATE)))
            else:
                dob, estimated = dt.date(int(text), 7, 1), True
        else:
            try:
                dob = date_parse(text)
            except ValueError:
                errors.append(RowError(row, "date_of_birth", str(ROW_NOT_A_DATE)))
        if dob is not None:
            if dob > today:
                errors.append(RowError(row, "date_of_birth", str(ROW_DOB_FUTURE)))
                dob = None
            elif (today - dob).days / 365.25 > MAX_AGE:
                errors.append(RowError(row, "date_of_birth", str(ROW_DOB_TOO_OLD.format(max_age=MAX_AGE))))
                dob = None
    age = None
    if cell.get("age"):
        try:
            age = int(float(cell["age"].replace(",", ".")))
            if not 0 <= age <= MAX_AGE or float(cell["age"].replace(",", ".")) != age:
                raise ValueError
        except (ValueError, OverflowError):
            errors.append(
                RowError(row, "age", str(ROW_AGE_INVALID.format(value=cell["age"][:10], max_age=MAX_AGE)))
            )
            age = None
    if dob is None and age is not None:
        dob, estimated = dt.date(today.year - age, 7, 1), True
    elif dob is not None and age is not None and abs((today - dob).days / 365.25 - age) > 1.5:
        errors.append(RowError(row, "age", str(ROW_AGE_AND_DOB)))
    disability: dict[str, int] = {}
    for domain in WG_DOMAINS:
        text = cell.get(f"wg_{domain}", "")
        if text:
            if text in {"1", "2", "3", "4"}:
                disability[domain] = int(text)
            else:
                errors.append(RowError(row, f"wg_{domain}", str(ROW_WG)))
    documents: list[tuple[str, str]] = []
    number = re.sub(r"\s+", "", cell.get("document_number", ""))
    if number:
        if not cell.get("document_type"):
            errors.append(RowError(row, "document_type", str(ROW_DOC_TYPE_MISSING)))
        else:
            doc_type = _choice(
                cell["document_type"], IdentityDocument.Type.choices, "document_type", row, errors
            )
            checked = text_check(number, "document_number", row, errors, limit=40)
            if doc_type and checked:
                documents.append((doc_type, checked))
    if errors:
        return None, errors
    return (
        IndividualValues(
            reference=cell["individual_id"][:64],
            household_reference=cell["household_id"][:64],
            relationship=relationship,
            sex=sex,
            given_name=given,
            family_name=family,
            other_names=[o for o in others if o],
            date_of_birth=dob.isoformat() if dob else "",
            dob_estimated=estimated if dob else False,
            birth_year=dob.year if dob else None,
            disability=disability,
            documents=documents,
            row=row,
        ),
        [],
    )


def household_parse(
    raw: dict[str, str], *, row: int | None, today: dt.date
) -> tuple[HouseholdValues | None, list[RowError]]:
    errors: list[RowError] = []
    cell = {
        k: (v or "").strip() if isinstance(v, str) else ("" if v is None else str(v)) for k, v in raw.items()
    }
    if len(cell.get("household_id", "")) > ID_LIMIT:
        errors.append(RowError(row, "household_id", str(ROW_TOO_LONG.format(limit=ID_LIMIT))))
    size = None
    if cell.get("household_size"):
        try:
            size = int(float(cell["household_size"]))
            if not 1 <= size <= 100 or float(cell["household_size"]) != size:
                raise ValueError
        except (ValueError, OverflowError):
            errors.append(
                RowError(row, "household_size", str(ROW_SIZE.format(value=cell["household_size"][:10])))
            )
            size = None
    dates = {}
    for column in ("displacement_date", "registered_on"):
        if cell.get(column):
            try:
                dates[column] = date_parse(cell[column])
                if dates[column] > today:
                    errors.append(RowError(row, column, str(ROW_DOB_FUTURE)))
            except ValueError:
                errors.append(RowError(row, column, str(ROW_NOT_A_DATE)))
    group = PopulationGroup.IDP
    if cell.get("population_group"):
        group = _choice(cell["population_group"], PopulationGroup.choices, "population_group", row, errors)
    needs = []
    for part in re.split(r"[;, ]+", cell.get("specific_needs", "")):
        if part:
            value = _choice_quiet(part, SPECIFIC_NEEDS)
            if value:
                needs.append(value)
            elif not any(e.column == "specific_needs" for e in errors):
                # A person's needs are sensitive: the unknown code is not quoted.
                errors.append(
                    RowError(
                        row, "specific_needs", str(ROW_NEED_UNKNOWN.format(allowed=", ".join(SPECIFIC_NEEDS)))
                    )
                )
    phone = cell.get("phone", "")
    if phone and not (_PHONE.match(phone) and 8 <= len(re.sub(r"\D", "", phone)) <= 15):
        errors.append(RowError(row, "phone", str(ROW_NOT_PHONE)))
    address = text_check(cell.get("address", ""), "address", row, errors, limit=300)
    consent = yes_no(cell.get("consent", ""), "consent", row, errors)
    scopes = []
    for part in re.split(r"[;, ]+", cell.get("consent_scope", "")):
        if part:
            value = _choice(part, [(s, s) for s in CONSENT_SCOPES], "consent_scope", row, errors)
            if value:
                scopes.append(value)
    if errors:
        return None, errors
    return (
        HouseholdValues(
            reference=cell.get("household_id", "")[:64],
            size=size,
            location_pcode=cell.get("location_pcode", "").upper(),
            site_code=cell.get("site_code", ""),
            origin_pcode=cell.get("origin_pcode", "").upper(),
            displacement_date=dates.get("displacement_date"),
            population_group=group,
            specific_needs=sorted(set(needs)),
            phone=re.sub(r"[\s().-]", "", phone),
            address=address,
            consent=bool(consent),
            consent_scope=sorted(set(scopes)) or (["registration"] if consent else []),
            registered_on=dates.get("registered_on"),
            row=row,
        ),
        [],
    )

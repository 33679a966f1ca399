"""What the ready-made forms share: languages, columns, row builders, shared choice lists, ``Builtin``."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

FORMS_DIR = Path(__file__).resolve().parent.parent / "data" / "forms"
LANGUAGES = ("English (en)", "Français (fr)", "Português (pt)")
MEDIA_NAMES = ("admin1.csv", "admin2.csv", "admin3.csv")

BUILTIN_UNKNOWN = 'There is no ready-made form "{name}"; use one of: {allowed}'
BUILTIN_NO_GAZETTEER = (
    "There is no current gazetteer for {country}: import its p-codes first (mobility gazetteer import), "
    "the form's admin-area lists are made from it."
)
BUILTIN_NO_ROUND = (
    "Operation {operation} has no round open for data collection; create one (mobility rounds create) "
    "or name it with --round."
)

SURVEY_COLUMNS = (
    "type",
    "name",
    *(f"label::{lang}" for lang in LANGUAGES),
    *(f"hint::{lang}" for lang in LANGUAGES),
    "required",
    "relevant",
    "constraint",
    *(f"constraint_message::{lang}" for lang in LANGUAGES),
    "choice_filter",
    "calculation",
    "default",
    "appearance",
    "personal_data",
)
CHOICE_COLUMNS = ("list_name", "name", *(f"label::{lang}" for lang in LANGUAGES))


def q(kind: str, name: str, label: tuple[str, str, str] | None = None, **extra) -> dict:
    """One survey row; ``label``/``hint``/``constraint_message`` are (en, fr, pt)."""
    row = {"type": kind, "name": name}
    for column, texts in (
        ("label", label),
        ("hint", extra.pop("hint", None)),
        ("constraint_message", extra.pop("constraint_message", None)),
    ):
        if texts:
            row.update({f"{column}::{lang}": text for lang, text in zip(LANGUAGES, texts, strict=True)})
    row.update({k: v for k, v in extra.items() if v not in (None, "")})
    return row


def c(list_name: str, name: str, en: str, fr: str, pt: str) -> dict:
    return {"list_name": list_name, "name": name, **dict(zip(CHOICE_COLUMNS[2:], (en, fr, pt), strict=True))}


# --- shared pieces ----------------------------------------------------------------------------------

META = [q("start", "start"), q("end", "end"), q("deviceid", "deviceid"), q("today", "today")]
NOT_NEGATIVE = ("Must be 0 or more.", "Doit être 0 ou plus.", "Deve ser 0 ou mais.")
NOT_FUTURE = ("Cannot be in the future.", "Ne peut pas être dans le futur.", "Não pode ser no futuro.")
ADMIN_LABELS = {
    1: ("Province / region (admin 1)", "Province / région (admin 1)", "Província / região (admin 1)"),
    2: ("District (admin 2)", "District / département (admin 2)", "Distrito (admin 2)"),
    3: ("Sub-district (admin 3)", "Sous-district / commune (admin 3)", "Posto administrativo (admin 3)"),
}


def admin_cascade(prefix: str = "", *, required3: bool = True, label_prefix=("", "", "")) -> list[dict]:
    """admin1 → admin2 → admin3 selects from the generated CSV media, each filtered by its parent."""
    names = [f"{prefix}admin{n}" for n in (1, 2, 3)]
    labels = {
        n: tuple(f"{p}{t}" for p, t in zip(label_prefix, ADMIN_LABELS[n], strict=True)) for n in (1, 2, 3)
    }
    # admin 3 is required only where the gazetteer has admin 3 areas under the chosen admin 2.
    admin3_required = (
        f"count(instance('admin3')/root/item[admin2 = ${{{names[1]}}}]) > 0" if required3 else ""
    )
    return [
        q("select_one_from_file admin1.csv", names[0], labels[1], required="yes", appearance="search"),
        q(
            "select_one_from_file admin2.csv",
            names[1],
            labels[2],
            required="yes",
            choice_filter=f"admin1=${{{names[0]}}}",
            appearance="search",
        ),
        q(
            "select_one_from_file admin3.csv",
            names[2],
            labels[3],
            required=admin3_required,
            choice_filter=f"admin2=${{{names[1]}}}",
            appearance="search",
        ),
    ]


POPULATION_GROUPS = [
    (
        "IDP",
        "Internally displaced persons",
        "Personnes déplacées internes",
        "Pessoas deslocadas internamente",
    ),
    (
        "RET-IDP",
        "Returnees from internal displacement",
        "Retournés de déplacement interne",
        "Retornados de deslocação interna",
    ),
    ("RET-ABR", "Returnees from abroad", "Retournés de l'étranger", "Retornados do estrangeiro"),
    ("MIG", "Migrants", "Migrants", "Migrantes"),
    (
        "REF",
        "Refugees and asylum seekers",
        "Réfugiés et demandeurs d'asile",
        "Refugiados e requerentes de asilo",
    ),
    ("HOST", "Host community", "Communauté hôte", "Comunidade de acolhimento"),
]
REASONS = [
    ("conflict", "Conflict", "Conflit", "Conflito"),
    ("generalised_violence", "Generalised violence", "Violence généralisée", "Violência generalizada"),
    ("natural_disaster", "Natural disaster", "Catastrophe naturelle", "Desastre natural"),
    ("eviction", "Eviction", "Expulsion", "Despejo"),
    ("economic", "Economic reasons", "Raisons économiques", "Razões económicas"),
    ("other", "Other", "Autre", "Outro"),
    ("unknown", "Not known", "Inconnue", "Desconhecida"),
]
SHELTERS = [
    ("host_family", "With host families", "En familles d'accueil", "Com famílias de acolhimento"),
    ("rented", "Rented accommodation", "Logement loué", "Alojamento arrendado"),
    ("own_house", "Own house", "Propre maison", "Casa própria"),
    ("camp", "Camp / planned site", "Camp / site planifié", "Campo / local planeado"),
    ("collective_centre", "Collective centre", "Centre collectif", "Centro colectivo"),
    (
        "spontaneous_site",
        "Spontaneous / informal site",
        "Site spontané / informel",
        "Local espontâneo / informal",
    ),
    (
        "emergency_shelter",
        "Emergency shelter / tent",
        "Abri d'urgence / tente",
        "Abrigo de emergência / tenda",
    ),
    ("open_air", "Open air / no shelter", "À la belle étoile / sans abri", "Ao ar livre / sem abrigo"),
    ("other", "Other", "Autre", "Outro"),
]
YES_NO = [("yes", "Yes", "Oui", "Sim"), ("no", "No", "Non", "Não")]
NONE_OTHER = [("none", "None", "Aucun", "Nenhum"), ("other", "Other", "Autre", "Outro")]
SECTOR_LABELS = {
    "wash": ("Water, sanitation and hygiene", "Eau, hygiène et assainissement", "Água, saneamento e higiene"),
    "food": ("Food security", "Sécurité alimentaire", "Segurança alimentar"),
    "health": ("Health", "Santé", "Saúde"),
    "livelihoods": ("Livelihoods", "Moyens de subsistance", "Meios de subsistência"),
    "protection": ("Protection", "Protection", "Protecção"),
    "shelter": ("Shelter and NFI", "Abri et articles non alimentaires", "Abrigo e artigos não alimentares"),
    "communication": ("Communication", "Communication", "Comunicação"),
    "education": ("Education", "Éducation", "Educação"),
    "site": ("Site management", "Gestion de site", "Gestão do local"),
}


# Questions several forms ask in the same words.
KEY_INFORMANTS = q(
    "integer",
    "key_informants",
    (
        "Key informants interviewed",
        "Informateurs clés interrogés",
        "Informadores-chave entrevistados",
    ),
    constraint=". >= 0 and . <= 100",
    constraint_message=("Between 0 and 100.", "Entre 0 et 100.", "Entre 0 e 100."),
)
HOUSEHOLDS = q(
    "integer",
    "households",
    ("Households", "Ménages", "Agregados familiares"),
    constraint=". >= 0",
    constraint_message=NOT_NEGATIVE,
)
INDIVIDUALS = q(
    "integer",
    "individuals",
    ("People (individuals)", "Personnes (individus)", "Pessoas (indivíduos)"),
    required="yes",
    constraint=". >= 0 and (string-length(${households}) = 0 or . >= ${households})",
    constraint_message=(
        "Must be 0 or more, and not fewer than the households.",
        "Doit être 0 ou plus, et pas moins que les ménages.",
        "Deve ser 0 ou mais, e não menos que os agregados.",
    ),
)


def choices(list_name: str, items) -> list[dict]:
    return [c(list_name, *item) for item in items]


@dataclass
class Builtin:
    """A ready-made form: its sheets, the target it is bound to, and its mapping."""

    key: str
    form_id: str
    title: str
    version: str
    target: str
    survey: list[dict]
    choices: list[dict]
    mapping: dict[str, str]
    needs_round: bool = True
    constants: dict = field(default_factory=dict)

    @property
    def filename(self) -> str:
        return f"{self.form_id}.xlsx"

    @property
    def path(self) -> Path:
        return FORMS_DIR / self.filename

    def settings(self) -> dict:
        return {
            "form_id": self.form_id,
            "form_title": self.title,
            "version": self.version,
            "default_language": LANGUAGES[0],
        }

    def sheets(self) -> dict[str, list[list]]:
        """The workbook as rows: survey, choices, settings (first row the header)."""
        used = [col for col in SURVEY_COLUMNS if any(col in row for row in self.survey)]
        return {
            "survey": [used] + [[row.get(col, "") for col in used] for row in self.survey],
            "choices": [list(CHOICE_COLUMNS)]
            + [[row.get(col, "") for col in CHOICE_COLUMNS] for row in self.choices],
            "settings": [list(self.settings()), list(self.settings().values())],
        }

    def workbook(self) -> bytes:
        from openpyxl import Workbook

        wb = Workbook()
        wb.remove(wb.active)
        for title, rows in self.sheets().items():
            sheet = wb.create_sheet(title)
            for row in rows:
                sheet.append(row)
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()

    def workbook_bytes(self) -> bytes:
        """The committed workbook (what users download and adapt), or a fresh one when it is absent."""
        return self.path.read_bytes() if self.path.exists() else self.workbook()

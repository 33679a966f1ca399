"""Ready-made XLSForms for the tracking tools, each with its binding, and their admin-area media.

- ``baseline``: baseline area (admin 3) and sub-area (village) assessment → ``tracking.template``,
  one row per population group (a repeat).
- ``site``: multi-sectoral site assessment → ``tracking.site-assessment``.
- ``ett``: emergency event tracking, one row per group movement (a repeat) → ``tracking.events``.

Labels are in English, French and Portuguese. The admin areas are cascading selects
(``select_one_from_file admin1.csv`` → ``admin2.csv`` filtered by ``admin1`` → ``admin3.csv`` filtered
by ``admin2``). The workbooks hold no country data, so they are committed under ``data/forms/``
(regenerate them with ``python -m mobility.collection.builtin_forms``); the CSV media are generated
from the operation country's current gazetteer each time a form is published.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction

if TYPE_CHECKING:
    from mobility.core.models import Operation, Round

FORMS_DIR = Path(__file__).resolve().parent / "data" / "forms"
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


# --- baseline area / sub-area assessment --------------------------------------------------------------

BASELINE = Builtin(
    key="baseline",
    form_id="mobility_baseline",
    title="Baseline area and sub-area assessment",
    version="2026112501",
    target="tracking.template",
    survey=[
        *META,
        q("begin_group", "location", ("Location", "Localisation", "Localização")),
        *admin_cascade(),
        q(
            "select_one assessment_types",
            "assessment_type",
            ("What is assessed", "Ce qui est évalué", "O que é avaliado"),
            required="yes",
            default="BA",
        ),
        q(
            "text",
            "site_code",
            ("Village / neighbourhood code", "Code du village / quartier", "Código da aldeia / bairro"),
            hint=(
                "The code in the operation's list of villages",
                "Le code de la liste des villages de l'opération",
                "O código da lista de aldeias da operação",
            ),
            required="yes",
            relevant="${assessment_type} = 'BSA'",
        ),
        q(
            "text",
            "site_name",
            ("Village / neighbourhood name", "Nom du village / quartier", "Nome da aldeia / bairro"),
            required="yes",
            relevant="${assessment_type} = 'BSA'",
        ),
        q("geopoint", "gps", ("GPS location", "Position GPS", "Localização GPS")),
        q("end_group", "location"),
        q(
            "date",
            "reporting_date",
            (
                "Date the figures refer to",
                "Date à laquelle se rapportent les chiffres",
                "Data a que os números se referem",
            ),
            required="yes",
            default="today()",
            constraint=". <= today()",
            constraint_message=NOT_FUTURE,
        ),
        q(
            "integer",
            "key_informants",
            (
                "Key informants interviewed",
                "Informateurs clés interrogés",
                "Informadores-chave entrevistados",
            ),
            constraint=". >= 0 and . <= 100",
            constraint_message=("Between 0 and 100.", "Entre 0 et 100.", "Entre 0 e 100."),
        ),
        q(
            "begin_repeat",
            "groups",
            ("Population groups present", "Groupes de population présents", "Grupos populacionais presentes"),
        ),
        q(
            "select_one population_groups",
            "population_group",
            ("Population group", "Groupe de population", "Grupo populacional"),
            required="yes",
        ),
        q(
            "integer",
            "households",
            ("Households", "Ménages", "Agregados familiares"),
            constraint=". >= 0",
            constraint_message=NOT_NEGATIVE,
        ),
        q(
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
        ),
        q(
            "integer",
            "males",
            ("Of whom males", "Dont hommes", "Dos quais homens"),
            constraint=". >= 0 and . <= ${individuals}",
            constraint_message=NOT_NEGATIVE,
        ),
        q(
            "integer",
            "females",
            ("Of whom females", "Dont femmes", "Dos quais mulheres"),
            constraint=". >= 0 and coalesce(${males}, 0) + . <= ${individuals}",
            constraint_message=(
                "Males and females cannot be more than the people.",
                "Hommes et femmes ne peuvent dépasser le nombre de personnes.",
                "Homens e mulheres não podem ser mais do que as pessoas.",
            ),
        ),
        q(
            "select_one reasons",
            "displacement_reason",
            (
                "Main reason for displacement",
                "Principale raison du déplacement",
                "Principal razão da deslocação",
            ),
            relevant="${population_group} != 'HOST' and ${population_group} != 'MIG'",
        ),
        q(
            "select_one_from_file admin1.csv",
            "origin_admin1",
            ("Province of origin (admin 1)", "Province d'origine (admin 1)", "Província de origem (admin 1)"),
            relevant="${population_group} = 'IDP' or ${population_group} = 'RET-IDP'",
        ),
        q(
            "select_one shelters",
            "shelter_type",
            ("Main type of shelter", "Principal type d'abri", "Principal tipo de abrigo"),
            relevant="${population_group} != 'HOST'",
        ),
        q("end_repeat", "groups"),
    ],
    choices=[
        c(
            "assessment_types",
            "BA",
            "The whole area (admin 3)",
            "Toute la zone (admin 3)",
            "Toda a área (admin 3)",
        ),
        c(
            "assessment_types",
            "BSA",
            "A village or neighbourhood",
            "Un village ou quartier",
            "Uma aldeia ou bairro",
        ),
        *choices("population_groups", POPULATION_GROUPS),
        *choices("reasons", REASONS),
        *choices("shelters", SHELTERS),
    ],
    mapping={
        "admin1_code": "location/admin1",
        "admin2_code": "location/admin2",
        "admin3_code": "location/admin3",
        "site_code": "location/site_code",
        "site_name": "location/site_name",
        "assessment_type": "location/assessment_type",
        "reporting_date": "reporting_date",
        "key_informants": "key_informants",
        "population_group": "groups/population_group",
        "households": "groups/households",
        "individuals": "groups/individuals",
        "males": "groups/males",
        "females": "groups/females",
        "displacement_reason": "groups/displacement_reason",
        "origin_admin1_code": "groups/origin_admin1",
        "shelter_type": "groups/shelter_type",
    },
)


# --- site assessment --------------------------------------------------------------------------------

SITE_GROUPS = [
    ("idp", "IDP", ("IDPs", "PDI", "Deslocados internos")),
    ("ret_idp", "RET-IDP", ("Returnees (internal)", "Retournés (internes)", "Retornados (internos)")),
    ("ret_abr", "RET-ABR", ("Returnees from abroad", "Retournés de l'étranger", "Retornados do estrangeiro")),
    ("mig", "MIG", ("Migrants", "Migrants", "Migrantes")),
    ("ref", "REF", ("Refugees", "Réfugiés", "Refugiados")),
    ("host", "HOST", ("Host community", "Communauté hôte", "Comunidade de acolhimento")),
]
FIGURE_PARTS = [
    ("households", ("households", "ménages", "agregados familiares")),
    ("individuals", ("people", "personnes", "pessoas")),
    ("males", ("males", "hommes", "homens")),
    ("females", ("females", "femmes", "mulheres")),
]
# (sector, indicator, XLSForm type, (en, fr, pt), constraint)
SITE_INDICATORS = [
    (
        "wash",
        "water_source",
        "select_one water_source",
        ("Main water source", "Principale source d'eau", "Principal fonte de água"),
        "",
    ),
    (
        "wash",
        "water_litres_per_person_day",
        "decimal",
        (
            "Water available per person per day (litres)",
            "Eau disponible par personne et par jour (litres)",
            "Água disponível por pessoa por dia (litros)",
        ),
        ". >= 0 and . <= 1000",
    ),
    (
        "wash",
        "functioning_latrines",
        "integer",
        ("Functioning latrines", "Latrines fonctionnelles", "Latrinas funcionais"),
        ". >= 0",
    ),
    (
        "wash",
        "handwashing_stations",
        "select_one yesno",
        (
            "Handwashing stations available?",
            "Dispositifs de lavage des mains ?",
            "Pontos de lavagem das mãos?",
        ),
        "",
    ),
    (
        "wash",
        "open_defecation",
        "select_one yesno",
        (
            "Open defecation observed?",
            "Défécation à l'air libre observée ?",
            "Defecação ao ar livre observada?",
        ),
        "",
    ),
    (
        "food",
        "distribution_last_month",
        "select_one yesno",
        (
            "Food distribution in the last month?",
            "Distribution alimentaire le mois dernier ?",
            "Distribuição de alimentos no último mês?",
        ),
        "",
    ),
    (
        "food",
        "main_source",
        "select_one food_source",
        ("Main source of food", "Principale source de nourriture", "Principal fonte de alimentos"),
        "",
    ),
    (
        "health",
        "facility_on_site",
        "select_one yesno",
        ("Health facility on site?", "Structure de santé sur le site ?", "Unidade sanitária no local?"),
        "",
    ),
    (
        "health",
        "facility_distance_km",
        "decimal",
        (
            "Distance to the nearest health facility (km)",
            "Distance à la structure de santé la plus proche (km)",
            "Distância à unidade sanitária mais próxima (km)",
        ),
        ". >= 0 and . <= 500",
    ),
    (
        "health",
        "main_problem",
        "select_one health_problem",
        ("Main health problem", "Principal problème de santé", "Principal problema de saúde"),
        "",
    ),
    (
        "livelihoods",
        "main_activity",
        "select_one activity",
        (
            "Main livelihood activity",
            "Principale activité de subsistance",
            "Principal actividade de subsistência",
        ),
        "",
    ),
    (
        "protection",
        "safe_spaces",
        "select_one yesno",
        (
            "Safe spaces for women and children?",
            "Espaces sûrs pour femmes et enfants ?",
            "Espaços seguros para mulheres e crianças?",
        ),
        "",
    ),
    (
        "protection",
        "lighting",
        "select_one lighting",
        ("Lighting in the site", "Éclairage du site", "Iluminação do local"),
        "",
    ),
    (
        "protection",
        "gbv_referral",
        "select_one yesno",
        (
            "GBV referral pathway in place?",
            "Circuit de référencement VBG en place ?",
            "Mecanismo de referência VBG em funcionamento?",
        ),
        "",
    ),
    (
        "shelter",
        "main_type",
        "select_one shelter_main",
        ("Main shelter type", "Principal type d'abri", "Principal tipo de abrigo"),
        "",
    ),
    (
        "shelter",
        "households_without_shelter",
        "integer",
        ("Households without shelter", "Ménages sans abri", "Agregados sem abrigo"),
        ". >= 0",
    ),
    (
        "communication",
        "main_source",
        "select_one info_source",
        ("Main source of information", "Principale source d'information", "Principal fonte de informação"),
        "",
    ),
    (
        "education",
        "children_in_school_pct",
        "decimal",
        ("Children attending school (%)", "Enfants scolarisés (%)", "Crianças a frequentar a escola (%)"),
        ". >= 0 and . <= 100",
    ),
    (
        "site",
        "committee_exists",
        "select_one yesno",
        ("Site committee exists?", "Un comité de site existe ?", "Existe um comité do local?"),
        "",
    ),
]
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


def _site_survey() -> list[dict]:
    rows = [
        *META,
        q("begin_group", "site", ("The site", "Le site", "O local")),
        *admin_cascade(),
        q("text", "site_code", ("Site code", "Code du site", "Código do local"), required="yes"),
        q("text", "site_name", ("Site name", "Nom du site", "Nome do local"), required="yes"),
        q(
            "geopoint",
            "gps",
            ("GPS location of the site", "Position GPS du site", "Localização GPS do local"),
        ),
        q("select_one site_types", "site_type", ("Type of site", "Type de site", "Tipo de local")),
        q(
            "select_one management",
            "management_agency",
            ("Site management", "Gestion du site", "Gestão do local"),
        ),
        q(
            "text",
            "management_agency_name",
            ("Name of the managing agency", "Nom de l'agence de gestion", "Nome da agência gestora"),
            relevant="${management_agency} != '' and ${management_agency} != 'none'",
        ),
        q(
            "select_one accessibility",
            "accessibility",
            ("Access to the site", "Accès au site", "Acesso ao local"),
        ),
        q("end_group", "site"),
        q(
            "date",
            "reporting_date",
            ("Date of the assessment", "Date de l'évaluation", "Data da avaliação"),
            required="yes",
            default="today()",
            constraint=". <= today()",
            constraint_message=NOT_FUTURE,
        ),
        q(
            "integer",
            "key_informants",
            (
                "Key informants interviewed",
                "Informateurs clés interrogés",
                "Informadores-chave entrevistados",
            ),
            constraint=". >= 0 and . <= 100",
            constraint_message=("Between 0 and 100.", "Entre 0 et 100.", "Entre 0 e 100."),
        ),
        q(
            "begin_group",
            "population",
            ("People living in the site", "Personnes vivant sur le site", "Pessoas no local"),
        ),
        q(
            "select_multiple population_groups",
            "groups_present",
            ("Population groups present", "Groupes de population présents", "Grupos populacionais presentes"),
            required="yes",
        ),
    ]
    for prefix, group, labels in SITE_GROUPS:
        for part, part_labels in FIGURE_PARTS:
            rows.append(
                q(
                    "integer",
                    f"{prefix}_{part}",
                    tuple(f"{g} — {p}" for g, p in zip(labels, part_labels, strict=True)),
                    required="yes" if part == "individuals" else "",
                    relevant=f"selected(${{groups_present}}, '{group}')",
                    constraint=". >= 0",
                    constraint_message=NOT_NEGATIVE,
                )
            )
    rows.append(q("end_group", "population"))
    sector = None
    for sector_code, indicator, kind, labels, constraint in SITE_INDICATORS:
        if sector_code != sector:
            if sector:
                rows.append(q("end_group", f"sector_{sector}"))
            rows.append(q("begin_group", f"sector_{sector_code}", SECTOR_LABELS[sector_code]))
            sector = sector_code
        rows.append(
            q(
                kind,
                f"{sector_code}_{indicator}",
                labels,
                constraint=constraint,
                constraint_message=NOT_NEGATIVE if constraint else None,
            )
        )
    rows.append(q("end_group", f"sector_{sector}"))
    return rows


SITE = Builtin(
    key="site",
    form_id="mobility_site",
    title="Site assessment (multi-sectoral location assessment)",
    version="2026112501",
    target="tracking.sites",
    survey=_site_survey(),
    choices=[
        *choices("population_groups", POPULATION_GROUPS),
        *choices("yesno", YES_NO),
        *choices(
            "site_types",
            [
                ("planned_camp", "Planned camp", "Camp planifié", "Campo planeado"),
                (
                    "spontaneous_site",
                    "Spontaneous / informal site",
                    "Site spontané / informel",
                    "Local espontâneo / informal",
                ),
                ("collective_centre", "Collective centre", "Centre collectif", "Centro colectivo"),
                ("transit_centre", "Transit centre", "Centre de transit", "Centro de trânsito"),
                (
                    "resettlement_site",
                    "Resettlement site",
                    "Site de réinstallation",
                    "Centro de reassentamento",
                ),
                (
                    "host_community",
                    "Host community area",
                    "Zone de communauté hôte",
                    "Área de comunidade de acolhimento",
                ),
            ],
        ),
        *choices(
            "management",
            [
                ("government", "Government", "Gouvernement", "Governo"),
                ("un_agency", "UN agency", "Agence des Nations Unies", "Agência das Nações Unidas"),
                ("international_ngo", "International NGO", "ONG internationale", "ONG internacional"),
                ("national_ngo", "National NGO", "ONG nationale", "ONG nacional"),
                ("community", "Community / self-managed", "Communauté / autogéré", "Comunidade / autogerido"),
                ("none", "No management agency", "Aucune agence de gestion", "Nenhuma agência de gestão"),
            ],
        ),
        *choices(
            "accessibility",
            [
                ("accessible", "Accessible", "Accessible", "Acessível"),
                (
                    "partially_accessible",
                    "Partially accessible",
                    "Partiellement accessible",
                    "Parcialmente acessível",
                ),
                ("not_accessible", "Not accessible", "Inaccessible", "Inacessível"),
            ],
        ),
        *choices(
            "water_source",
            [
                ("piped", "Piped water", "Eau courante", "Água canalizada"),
                ("borehole", "Borehole", "Forage", "Furo"),
                ("protected_well", "Protected well", "Puits protégé", "Poço protegido"),
                ("unprotected_well", "Unprotected well", "Puits non protégé", "Poço não protegido"),
                ("surface_water", "Surface water", "Eau de surface", "Água de superfície"),
                ("water_trucking", "Water trucking", "Camion-citerne", "Camião-cisterna"),
                ("other", "Other", "Autre", "Outro"),
            ],
        ),
        *choices(
            "food_source",
            [
                ("distribution", "Distribution", "Distribution", "Distribuição"),
                ("market", "Market", "Marché", "Mercado"),
                ("own_production", "Own production", "Production propre", "Produção própria"),
                ("host_community", "Host community", "Communauté hôte", "Comunidade de acolhimento"),
                *NONE_OTHER,
            ],
        ),
        *choices(
            "health_problem",
            [
                ("malaria", "Malaria", "Paludisme", "Malária"),
                ("diarrhoea", "Diarrhoea", "Diarrhée", "Diarreia"),
                (
                    "respiratory",
                    "Respiratory infections",
                    "Infections respiratoires",
                    "Infecções respiratórias",
                ),
                ("malnutrition", "Malnutrition", "Malnutrition", "Desnutrição"),
                ("measles", "Measles", "Rougeole", "Sarampo"),
                ("cholera", "Cholera", "Choléra", "Cólera"),
                *NONE_OTHER,
            ],
        ),
        *choices(
            "activity",
            [
                ("agriculture", "Agriculture", "Agriculture", "Agricultura"),
                ("fishing", "Fishing", "Pêche", "Pesca"),
                ("daily_labour", "Daily labour", "Travail journalier", "Trabalho diário"),
                ("trade", "Trade", "Commerce", "Comércio"),
                *NONE_OTHER,
            ],
        ),
        *choices(
            "lighting",
            [
                ("adequate", "Adequate", "Suffisant", "Adequada"),
                ("partial", "Partial", "Partiel", "Parcial"),
                ("none", "None", "Aucun", "Nenhuma"),
            ],
        ),
        *choices(
            "shelter_main",
            [
                ("tent", "Tent", "Tente", "Tenda"),
                ("makeshift", "Makeshift shelter", "Abri de fortune", "Abrigo improvisado"),
                ("mud_brick", "Mud brick", "Brique de terre", "Tijolo de barro"),
                ("collective", "Collective building", "Bâtiment collectif", "Edifício colectivo"),
                ("other", "Other", "Autre", "Outro"),
            ],
        ),
        *choices(
            "info_source",
            [
                ("radio", "Radio", "Radio", "Rádio"),
                ("phone", "Phone", "Téléphone", "Telefone"),
                ("community_leaders", "Community leaders", "Leaders communautaires", "Líderes comunitários"),
                ("humanitarian_staff", "Humanitarian staff", "Personnel humanitaire", "Pessoal humanitário"),
                *NONE_OTHER,
            ],
        ),
    ],
    mapping={
        "site_code": "site/site_code",
        "site_name": "site/site_name",
        "latitude": "site/gps",
        "longitude": "site/gps",
        "admin1_code": "site/admin1",
        "admin2_code": "site/admin2",
        "admin3_code": "site/admin3",
        "site_type": "site/site_type",
        "management_agency": "site/management_agency",
        "management_agency_name": "site/management_agency_name",
        "accessibility": "site/accessibility",
        "reporting_date": "reporting_date",
        "key_informants": "key_informants",
        **{f"{p}_{part}": f"population/{p}_{part}" for p, _, _ in SITE_GROUPS for part, _ in FIGURE_PARTS},
        **{f"{s}.{i}": f"sector_{s}/{s}_{i}" for s, i, *_ in SITE_INDICATORS},
    },
)


# --- emergency event tracking -----------------------------------------------------------------------

ETT = Builtin(
    key="ett",
    form_id="mobility_ett",
    title="Emergency event tracking",
    version="2026112501",
    target="tracking.events",
    needs_round=False,
    survey=[
        *META,
        q("geopoint", "gps", ("Where you are (GPS)", "Où vous êtes (GPS)", "Onde está (GPS)")),
        q("begin_group", "event", ("The event", "L'événement", "O evento")),
        q(
            "text",
            "event_ref",
            (
                "Event code, if the event already has one",
                "Code de l'événement, s'il en a déjà un",
                "Código do evento, se já tiver um",
            ),
            hint=(
                "Leave empty for a new event: a code is made for it.",
                "Laisser vide pour un nouvel événement : un code est créé.",
                "Deixe vazio para um novo evento: é criado um código.",
            ),
        ),
        q("calculate", "event_uid", calculation="once(uuid())"),
        q(
            "calculate",
            "event_code",
            calculation="if(${event_ref} != '', ${event_ref}, concat('ETT-', substr(${event_uid}, 0, 8)))",
        ),
        q(
            "select_one event_types",
            "event_type",
            ("Type of event", "Type d'événement", "Tipo de evento"),
            required="yes",
        ),
        q(
            "date",
            "event_date",
            ("Date of the event", "Date de l'événement", "Data do evento"),
            required="yes",
            constraint=". <= today()",
            constraint_message=NOT_FUTURE,
        ),
        q(
            "text",
            "event_description",
            ("What happened (short)", "Ce qui s'est passé (bref)", "O que aconteceu (breve)"),
            personal_data="yes",  # free text: treated as personal data in exports
        ),
        *admin_cascade("event_", required3=False, label_prefix=("Where: ", "Où : ", "Onde: ")),
        q("end_group", "event"),
        q(
            "begin_repeat",
            "movements",
            ("Groups that moved", "Groupes qui se sont déplacés", "Grupos que se deslocaram"),
        ),
        q(
            "select_one population_groups",
            "population_group",
            ("Population group", "Groupe de population", "Grupo populacional"),
            required="yes",
            default="IDP",
        ),
        q(
            "integer",
            "households",
            ("Households", "Ménages", "Agregados familiares"),
            constraint=". >= 0",
            constraint_message=NOT_NEGATIVE,
        ),
        q(
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
        ),
        *admin_cascade("from_", required3=False, label_prefix=("Came from: ", "Venus de : ", "Vieram de: ")),
        *admin_cascade("to_", required3=False, label_prefix=("Now in: ", "Maintenant à : ", "Agora em: ")),
        q("select_one shelters", "shelter", ("Where they stay", "Où ils logent", "Onde estão alojados")),
        q(
            "select_multiple sectors",
            "initial_needs",
            ("Most urgent needs", "Besoins les plus urgents", "Necessidades mais urgentes"),
        ),
        q("end_repeat", "movements"),
    ],
    choices=[
        *choices(
            "event_types",
            [
                (
                    "conflict",
                    "Conflict / armed attack",
                    "Conflit / attaque armée",
                    "Conflito / ataque armado",
                ),
                ("flood", "Flood", "Inondation", "Cheia"),
                ("cyclone", "Cyclone / storm", "Cyclone / tempête", "Ciclone / tempestade"),
                ("drought", "Drought", "Sécheresse", "Seca"),
                ("fire", "Fire", "Incendie", "Incêndio"),
                ("eviction", "Eviction", "Expulsion", "Despejo"),
                ("earthquake", "Earthquake", "Tremblement de terre", "Sismo"),
                ("other", "Other", "Autre", "Outro"),
            ],
        ),
        *choices("population_groups", POPULATION_GROUPS),
        *choices("shelters", SHELTERS),
        *choices("sectors", [(code, *labels) for code, labels in SECTOR_LABELS.items()]),
    ],
    mapping={
        "event_code": "event/event_code",
        "event_type": "event/event_type",
        "event_date": "event/event_date",
        "event_description": "event/event_description",
        "event_admin1_code": "event/event_admin1",
        "event_admin2_code": "event/event_admin2",
        "event_admin3_code": "event/event_admin3",
        "population_group": "movements/population_group",
        "households": "movements/households",
        "individuals": "movements/individuals",
        "from_admin1_code": "movements/from_admin1",
        "from_admin2_code": "movements/from_admin2",
        "from_admin3_code": "movements/from_admin3",
        "to_admin1_code": "movements/to_admin1",
        "to_admin2_code": "movements/to_admin2",
        "to_admin3_code": "movements/to_admin3",
        "shelter": "movements/shelter",
        "initial_needs": "movements/initial_needs",
    },
)

BUILTINS: dict[str, Builtin] = {b.key: b for b in (BASELINE, SITE, ETT)}


def builtin_get(key: str) -> Builtin:
    try:
        return BUILTINS[key]
    except KeyError:
        raise ValidationError(BUILTIN_UNKNOWN.format(name=key, allowed=", ".join(BUILTINS))) from None


# --- admin-area media from the gazetteer ------------------------------------------------------------


def admin_media(country_iso3: str) -> dict[str, bytes]:
    """admin1.csv (name, label), admin2.csv (+ admin1), admin3.csv (+ admin1, admin2) of the current gazetteer."""
    from mobility.gazetteer.models import AdminArea, GazetteerVersion

    country = country_iso3.strip().upper()
    version = GazetteerVersion.objects.filter(country_iso3=country, is_current=True).first()
    if version is None:
        raise ValidationError(BUILTIN_NO_GAZETTEER.format(country=country))
    areas = list(
        AdminArea.objects.filter(version=version, level__in=(1, 2, 3)).values_list(
            "pcode", "level", "name", "parent__pcode"
        )
    )
    parent = {pcode: up or "" for pcode, _, _, up in areas}
    rows: dict[int, list[list[str]]] = {1: [], 2: [], 3: []}
    for pcode, level, name, _up in areas:
        ancestors = []
        node = pcode
        for _ in range(level - 1):
            node = parent.get(node, "")
            ancestors.insert(0, node)
        rows[level].append([pcode, name, *ancestors])
    out = {}
    for level, header in (
        (1, ["name", "label"]),
        (2, ["name", "label", "admin1"]),
        (3, ["name", "label", "admin1", "admin2"]),
    ):
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(header)
        for row in sorted(rows[level], key=lambda r: (r[1].casefold(), r[0])):
            writer.writerow(row)
        out[f"admin{level}.csv"] = text.getvalue().encode("utf-8")
    return out


# --- publishing -------------------------------------------------------------------------------------


@dataclass
class Published:
    version: object  # FormVersion
    binding: object  # Binding
    media: list[str]


def open_round(operation: Operation) -> Round | None:
    """The newest round still open for data collection (not published, not superseded)."""
    from mobility.core.models import Round

    return (
        Round.objects.filter(operation=operation)
        .exclude(status__in=(Round.Status.PUBLISHED, Round.Status.SUPERSEDED))
        .order_by("-number", "-version")
        .first()
    )


@transaction.atomic
def builtin_publish(*, operation: Operation, key: str, round_number: int | None = None, by=None) -> Published:
    """Publish a ready-made form to an operation with admin lists from its gazetteer, and bind it."""
    from .bindings import binding_save
    from .services import form_publish, media_attach

    spec = builtin_get(key)
    media = admin_media(operation.country_iso3)  # refuses a country without a gazetteer first
    constants = dict(spec.constants)
    if spec.needs_round:
        if round_number is None:
            round_ = open_round(operation)
            if round_ is None:
                raise ValidationError(BUILTIN_NO_ROUND.format(operation=operation.name))
            round_number = round_.number
        constants["round"] = int(round_number)
    version = form_publish(operation=operation, data=spec.workbook_bytes(), filename=spec.filename, by=by)
    for name, data in media.items():
        media_attach(version=version, name=name, data=data, content_type="text/csv", by=by)
    binding = binding_save(
        form=version.form, target=spec.target, mapping=spec.mapping, constants=constants, by=by
    )
    return Published(version=version, binding=binding, media=sorted(media))


def builtin_workbooks_write(directory: Path = FORMS_DIR) -> list[Path]:
    """Write the ready-made workbooks (run after changing a form here, and bump its version)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for spec in BUILTINS.values():
        path = directory / spec.filename
        path.write_bytes(spec.workbook())
        paths.append(path)
    return paths


if __name__ == "__main__":  # pragma: no cover - a maintainer's tool
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mobility.settings")
    django.setup()
    for written in builtin_workbooks_write():
        print(written)

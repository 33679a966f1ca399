"""The multi-sectoral site assessment."""

from __future__ import annotations

from .common import (
    KEY_INFORMANTS,
    META,
    NONE_OTHER,
    NOT_FUTURE,
    NOT_NEGATIVE,
    POPULATION_GROUPS,
    SECTOR_LABELS,
    YES_NO,
    Builtin,
    admin_cascade,
    choices,
    q,
)

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
        KEY_INFORMANTS,
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

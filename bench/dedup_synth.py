"""A deterministic, streaming generator of synthetic registrations with known duplicates.

Why: the deduplication benchmark needs a million registrations shaped like a real caseload — names
that repeat as real names do, households sharing a phone and a family name, children with no
document — and duplicates that fail the way real ones fail (a typo, an accent dropped, the day and
month swapped, only the year known, a name written in Arabic script the second time). Nothing here
is real data; every value is drawn from the small pools below.

Shape of what it makes (one row per individual, grouped in households)
- Households of 1–10 people (mean ~4.7): a head, often a spouse, children, sometimes a parent or
  another relative. Phone (+258 8x…, ~70 % of households) and locality (one of ~400 p-codes
  "MZ" + 6 digits, Zipf-like sizes) are the household's; children carry the head's family name
  most of the time.
- ~62 % of households have Portuguese/Mozambican names (accents: "João", "Macuácua"), ~38 %
  Arabic-origin names with several Latin spellings ("Muhammad"/"Mohammed"/"Mohamed") and an
  Arabic-script form ("محمد"); 20 % of those households are written in Arabic script. Given names
  of Arabic origin are compound 30 % of the time ("Abdul Karim", "Muhammad Imran").
- Date of birth: ISO "YYYY-MM-DD", or "YYYY" when only the year is known (``dob_estimated``);
  ~12 % of adults have only a year. Documents: ~65 % of adults, ~15 % of children (Mozambican BI
  "110100123456B"-like numbers).
- **Duplicates, 10 % of the rows**: a household registered again under a new household id (70 % of
  duplicate events, all its members) or one person registered again alone (30 %), with, per
  record: typos in names (insert/delete/substitute/transpose), accents dropped, upper case, another
  Latin spelling or the other script for Arabic-origin names, given/family swapped, day and month
  swapped, year only, a digit wrong in the date, date missing, document missing or mistyped,
  phone kept / changed / missing, locality changed (the family moved), sex not stated. ~5 % of
  duplicated households are registered a third time.
- Labels: ``cluster_id`` is the ``unique_id`` of the original record; every row of one person
  shares it.

Columns: unique_id (int), individual_id, household_id, cluster_id, relationship, given_name,
family_name, sex (f/m/u), date_of_birth, dob_estimated (bool), birth_year, document_type,
document_number, phone, location_pcode.

Determinism: households are made in chunks, chunk k from ``random.Random(f"{seed}:{k}")``, so the
same (n_rows, seed) gives the same rows however they are consumed (``iter_chunks``, ``frames``,
``write``) and on any machine. Rows are exactly ``n_rows`` (the last household may be cut).

Run as a script:  .venv/bin/python bench/dedup_synth.py out.parquet 1000000 [--seed 0]   (or out.csv)
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import itertools
import random
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path

CHUNK_HOUSEHOLDS = 20_000
DUPLICATE_SHARE = 0.10  # of all rows
COLUMNS = [
    "unique_id",
    "individual_id",
    "household_id",
    "cluster_id",
    "relationship",
    "given_name",
    "family_name",
    "sex",
    "date_of_birth",
    "dob_estimated",
    "birth_year",
    "document_type",
    "document_number",
    "phone",
    "location_pcode",
]
REFERENCE_YEAR = 2026

# --- name pools ------------------------------------------------------------------------------

PT_MALE = (
    "João José António Manuel Carlos Francisco Alberto Armando Fernando Paulo Pedro Jorge Luís "
    "Domingos Ernesto Celso Agostinho Arnaldo Alfredo Artur Benedito Bernardo Cândido Celestino "
    "Eusébio Felisberto Gabriel Gervásio Inácio Jacinto Joaquim Lourenço Mário Narciso Orlando "
    "Raimundo Sebastião Silvestre Tomás Valdemar Zacarias Albino Américo Abílio Augusto Baltazar "
    "Cláudio Custódio Daniel David Dinis Edson Elias Estêvão Fabião Filipe Florêncio Germano "
    "Hélder Horácio Isaías Jaime Jeremias Júlio Leonardo Lucas Marcelino Miguel Moisés Nelson "
    "Octávio Rafael Ricardo Rui Samuel Simão Teodoro Timóteo Vasco Victor Xavier Adelino Aurélio"
).split()
PT_FEMALE = (
    "Maria Ana Joana Rosa Teresa Fátima Lúcia Isabel Helena Graça Luísa Marta Cecília Celeste "
    "Albertina Amélia Argentina Beatriz Carolina Cristina Dulce Esperança Felismina Filomena Glória "
    "Inês Júlia Laura Lurdes Madalena Natália Olga Paulina Rita Sara Sónia Tânia Virgínia Zélia "
    "Alzira Ermelinda Adelaide Alice Angélica Aurora Benvinda Carmen Catarina Clementina Conceição "
    "Deolinda Elisa Emília Ester Eugénia Fernanda Flora Georgina Hortência Irene Joaquina Josefa "
    "Laurinda Leonor Lídia Lucinda Margarida Marília Noémia Palmira Regina Rosália Sofia Valentina"
).split()
MZ_FAMILY = (
    "Macuácua Nhantumbo Sitoe Cossa Mondlane Chissano Tembe Mabunda Muianga Langa Massingue Cumbe "
    "Machava Matsinhe Chambal Mucavele Manhiça Chilaule Ngovene Bila Maússe Mahumane Mungói "
    "Nhamússua Zandamela Chaúque Guambe Mazive Uamusse Mussa Namashulua Saide Momade Assane Abudo "
    "Ussene Amade Chale Issufo Faquir Tivane Nhaca Matola Maputo Chongo Cuna Mavie Nhassengo Mulungo "
    "Sumbane Mabote Macamo Mathe Mboa Mucambe Nhabinde Ubisse Vilanculo Xerinda Zunguze Bambo "
    "Chemane Chipande Dimande Fumo Gove Jamisse Lhongo Macie Maposse Massango Mavila Mbanze Nhamue "
    "Novela Nuvunga Paunde Rungo Samuel Simango Tamele Tsambe Valoi Whate Zimba Mahanjane Malate"
).split()
PT_FAMILY = (
    "Silva Santos Fernandes Pereira Costa Sousa Rodrigues Martins Gonçalves Lopes Almeida Ferreira "
    "Carvalho Ribeiro Pinto Correia Mendes Nunes Vieira Monteiro Cardoso Rocha Gomes Teixeira Lima "
    "Baptista Simões Conceição Nascimento Mateus Jorge Marques Moreira Soares Matos Fonseca Machado"
).split()

# Arabic-origin names: Latin spellings (the first is the most common) and the Arabic-script form.
AR_MALE = [
    (("Muhammad", "Mohammed", "Mohamed", "Mohammad", "Mohamad"), "محمد"),
    (("Ahmad", "Ahmed"), "أحمد"),
    (("Ali",), "علي"),
    (("Hassan", "Hasan"), "حسن"),
    (("Hussein", "Hussain", "Husain", "Hossein"), "حسين"),
    (("Abdullah", "Abdallah", "Abdulla"), "عبد الله"),
    (("Ibrahim", "Ebrahim", "Ibraheem"), "إبراهيم"),
    (("Yusuf", "Youssef", "Yousef", "Yousuf"), "يوسف"),
    (("Omar", "Umar"), "عمر"),
    (("Khalid", "Khaled"), "خالد"),
    (("Mustafa", "Mostafa", "Moustafa"), "مصطفى"),
    (("Mahmoud", "Mahmud", "Mehmood"), "محمود"),
    (("Abdul Rahman", "Abdurrahman", "Abdelrahman"), "عبد الرحمن"),
    (("Ismail", "Ismael", "Esmail"), "إسماعيل"),
    (("Idris", "Idrees", "Edris"), "إدريس"),
    (("Karim", "Kareem"), "كريم"),
    (("Tariq", "Tarek", "Tarik"), "طارق"),
    (("Bilal",), "بلال"),
    (("Hamza", "Hamzah"), "حمزة"),
    (("Salim", "Saleem", "Selim"), "سليم"),
    (("Rashid", "Rasheed", "Rachid"), "رشيد"),
    (("Jamal", "Gamal"), "جمال"),
    (("Nasser", "Nasir", "Naser"), "ناصر"),
    (("Sulaiman", "Suleiman", "Selemane", "Sulayman"), "سليمان"),
    (("Issa", "Isa"), "عيسى"),
    (("Musa", "Moussa", "Mousa"), "موسى"),
    (("Imran", "Emran"), "عمران"),
    (("Faisal", "Faysal"), "فيصل"),
    (("Hamid", "Hameed"), "حميد"),
    (("Saeed", "Said", "Saiid"), "سعيد"),
    (("Zakaria", "Zakariya", "Zacarias"), "زكريا"),
    (("Anwar", "Anouar"), "أنور"),
]
AR_FEMALE = [
    (("Fatima", "Fatuma", "Fatma", "Fatimah"), "فاطمة"),
    (("Aisha", "Aicha", "Ayesha", "Aishah"), "عائشة"),
    (("Amina", "Aminah", "Ameena"), "أمينة"),
    (("Khadija", "Khadijah", "Khadeeja"), "خديجة"),
    (("Maryam", "Mariam", "Meryem"), "مريم"),
    (("Zainab", "Zeinab", "Zaynab"), "زينب"),
    (("Salma", "Selma"), "سلمى"),
    (("Asma", "Asmaa"), "أسماء"),
    (("Layla", "Leila", "Laila"), "ليلى"),
    (("Nour", "Noor", "Nur"), "نور"),
    (("Hafsa", "Hafsah"), "حفصة"),
    (("Halima", "Halimah", "Haleema"), "حليمة"),
    (("Samira", "Sameera"), "سميرة"),
    (("Yasmin", "Yasmine", "Yasmeen"), "ياسمين"),
    (("Rahma", "Rahmah"), "رحمة"),
    (("Zahra", "Zahraa", "Zohra"), "زهراء"),
    (("Safiya", "Safia", "Safiyyah"), "صفية"),
    (("Nadia", "Nadiya"), "نادية"),
    (("Huda", "Houda"), "هدى"),
    (("Rukhsana", "Rukhsanah"), "رخسانة"),
    (("Shazia", "Shaziya"), "شازية"),
    (("Nasreen", "Nasrin"), "نسرين"),
    (("Sumaya", "Soumaya", "Sumaiya"), "سمية"),
    (("Jamila", "Jameela", "Djamila"), "جميلة"),
]
AR_FAMILY = [
    (("Khan",), "خان"),
    (("Hussain", "Hussein", "Husain"), "حسين"),
    (("Ahmed", "Ahmad"), "أحمد"),
    (("Ali",), "علي"),
    (("Shah",), "شاه"),
    (("Malik",), "مالك"),
    (("Qureshi", "Kureshi", "Quraishi"), "قريشي"),
    (("Rahman", "Rehman"), "رحمن"),
    (("Abbasi",), "عباسي"),
    (("Siddiqui", "Siddiqi", "Sidiqi"), "صديقي"),
    (("Haddad", "Hadad"), "حداد"),
    (("Saleh", "Salih", "Salah"), "صالح"),
    (("Osman", "Othman", "Usman", "Uthman"), "عثمان"),
    (("Mansour", "Mansoor", "Mansur"), "منصور"),
    (("Qasim", "Kassim", "Cassimo", "Kasim"), "قاسم"),
    (("Bakr", "Bacar", "Bakar"), "بكر"),
    (("Jaber", "Jabir"), "جابر"),
    (("Nouri", "Noori", "Nuri"), "نوري"),
    (("Sharif", "Shareef", "Cherif"), "شريف"),
    (("Aziz", "Azeez"), "عزيز"),
    (("Hakim", "Hakeem"), "حكيم"),
    (("Latif", "Lateef"), "لطيف"),
    (("Yousef", "Yusuf", "Youssef"), "يوسف"),
    (("Karimi",), "كريمي"),
    (("Baloch", "Baluch"), "بلوش"),
    (("Javed", "Javaid"), "جاويد"),
    (("Iqbal", "Ikbal"), "إقبال"),
    (("Farooq", "Faruq", "Farouk"), "فاروق"),
    (("Rashid", "Rasheed"), "رشيد"),
    (("Mahmoud", "Mahmood", "Mehmood"), "محمود"),
    (("Abdi", "Abdie"), "عبدي"),
    (("Omar", "Umar"), "عمر"),
    (("Said", "Saeed"), "سعيد"),
    (("Bukhari", "Bokhari"), "بخاري"),
    (("Hashmi", "Hashemi"), "هاشمي"),
    (("Zaidi", "Zaydi"), "زيدي"),
]
AR_COMPOUND_FIRST = [
    (("Muhammad", "Mohammed", "Mohamed"), "محمد"),
    (("Abdul", "Abdel", "Abd al"), "عبد ال"),
]


def _zipf_cum(n: int, s: float = 1.0) -> list[float]:
    """Cumulative Zipf-like weights, so a few names are common and most are rare (as real names)."""
    return list(itertools.accumulate(1.0 / (i + 1) ** s for i in range(n)))


def _pick(rng: random.Random, pool: list, cum: list[float]):
    return pool[bisect.bisect_left(cum, rng.random() * cum[-1])]


_CUM = {
    "pt_m": _zipf_cum(len(PT_MALE), 0.8),
    "pt_f": _zipf_cum(len(PT_FEMALE), 0.8),
    "mz_fam": _zipf_cum(len(MZ_FAMILY) + len(PT_FAMILY), 0.7),
    "ar_m": _zipf_cum(len(AR_MALE), 0.9),
    "ar_f": _zipf_cum(len(AR_FEMALE), 0.8),
    "ar_fam": _zipf_cum(len(AR_FAMILY), 0.7),
}
_MZ_FAMILY_ALL = MZ_FAMILY + PT_FAMILY
# Locality p-codes: "MZ" + province (01–11) + district + posto; sizes Zipf-like (camps are big).
LOCALITIES = [f"MZ{p:02d}{d:02d}{s:02d}" for p in range(1, 12) for d in range(1, 13) for s in range(1, 4)]
_LOC_CUM = _zipf_cum(len(LOCALITIES), 0.9)
_LOC_ORDER = random.Random(7).sample(LOCALITIES, len(LOCALITIES))  # big places not all in province 01


# --- one person ------------------------------------------------------------------------------


class _Name:
    """A name as a choice in a pool: written in Latin (one of its spellings) or Arabic script."""

    __slots__ = ("arabic", "latin", "parts")

    def __init__(self, parts: list[tuple[tuple[str, ...], str]], latin: list[int] | None, arabic: bool):
        self.parts = parts
        self.latin = latin  # spelling index per part
        self.arabic = arabic

    def text(self) -> str:
        if self.arabic:
            return " ".join(p[1] for p in self.parts).replace("عبد ال ", "عبد ال")
        return " ".join(p[0][i] for p, i in zip(self.parts, self.latin, strict=True))


def _ar_name(rng: random.Random, pool, cum, arabic: bool, compound: float) -> _Name:
    parts = [_pick(rng, pool, cum)]
    if (
        compound
        and rng.random() < compound
        and parts[0][1] != "محمد"
        and not parts[0][0][0].startswith("Abd")
    ):
        parts.insert(0, rng.choice(AR_COMPOUND_FIRST))
    latin = [0 if rng.random() < 0.6 else rng.randrange(len(p[0])) for p in parts]
    return _Name(parts, latin, arabic)


def _dob(rng: random.Random, age: int, estimated: bool) -> tuple[str, bool, int]:
    year = REFERENCE_YEAR - 1 - age - (1 if rng.random() < 0.5 else 0)  # never in the future
    if estimated:
        return f"{year:04d}", True, year
    month = rng.randint(1, 12)
    day = rng.randint(1, 28 if month == 2 else 30 if month in (4, 6, 9, 11) else 31)
    return f"{year:04d}-{month:02d}-{day:02d}", False, year


def _document(rng: random.Random) -> str:
    return f"{rng.randint(1, 11):02d}{rng.randint(1, 12):02d}{rng.randint(0, 99999999):08d}{rng.choice('ABCDEFGHIJKLMNPQ')}"


def _phone(rng: random.Random) -> str:
    return f"+258 8{rng.choice('234567')} {rng.randint(0, 999):03d} {rng.randint(0, 9999):04d}"


def _household(rng: random.Random) -> dict:
    """One original household: members as dicts (names as text, except Arabic-origin kept as _Name)."""
    arabic_origin = rng.random() < 0.38
    script = arabic_origin and rng.random() < 0.20
    size = min(10, max(1, int(rng.gauss(4.7, 2.0) + 0.5)))
    phone = _phone(rng) if rng.random() < 0.70 else ""
    locality = _pick(rng, _LOC_ORDER, _LOC_CUM)
    head_sex = "m" if rng.random() < 0.68 else "f"
    head_age = rng.randint(19, 75)
    members: list[dict] = []

    def family():
        if arabic_origin:
            return _ar_name(rng, AR_FAMILY, _CUM["ar_fam"], script, 0)
        return _pick(rng, _MZ_FAMILY_ALL, _CUM["mz_fam"])

    def given(sex: str):
        if arabic_origin:
            pool, cum = (AR_MALE, _CUM["ar_m"]) if sex == "m" else (AR_FEMALE, _CUM["ar_f"])
            return _ar_name(rng, pool, cum, script, 0.3 if sex == "m" else 0.08)
        if rng.random() < 0.12:  # Muslim names are common on the coast of Cabo Delgado
            pool, cum = (AR_MALE, _CUM["ar_m"]) if sex == "m" else (AR_FEMALE, _CUM["ar_f"])
            return _ar_name(rng, pool, cum, False, 0.1)
        return _pick(rng, PT_MALE, _CUM["pt_m"]) if sex == "m" else _pick(rng, PT_FEMALE, _CUM["pt_f"])

    head_family = family()
    members.append(
        {
            "relationship": "head",
            "sex": head_sex,
            "age": head_age,
            "given": given(head_sex),
            "family": head_family,
        }
    )
    if size > 1 and rng.random() < 0.75:
        sex = "f" if head_sex == "m" else "m"
        age = max(16, head_age + rng.randint(-12, 6))
        members.append(
            {"relationship": "spouse", "sex": sex, "age": age, "given": given(sex), "family": family()}
        )
    if size > len(members) and head_age > 55 and rng.random() < 0.2:
        members.append(
            {
                "relationship": "grandchild",
                "sex": rng.choice("fm"),
                "age": rng.randint(0, 12),
                "given": None,
                "family": head_family,
            }
        )
    while len(members) < size:
        sex = rng.choice("fm")
        if rng.random() < 0.08:
            rel, age = "parent", min(95, head_age + rng.randint(18, 35))
            fam = family()
        elif rng.random() < 0.08:
            rel, age = "other_relative", rng.randint(5, 60)
            fam = family()
        else:
            rel, age = "child", rng.randint(0, max(0, min(head_age - 16, 35)))
            fam = head_family if arabic_origin or rng.random() < 0.7 else family()
        members.append({"relationship": rel, "sex": sex, "age": age, "given": given(sex), "family": fam})
    # Two members of one household rarely share a given name, and siblings are not born weeks apart
    # (twins aside): without this, same-name same-phone pairs would dominate the hard negatives.
    used_names: set = set()
    used_ages: set = set()
    for m in members:
        for _ in range(8):
            if m["given"] is not None and _name_id(m["given"]) not in used_names:
                break
            m["given"] = given(m["sex"])
        used_names.add(_name_id(m["given"]))
        if m["relationship"] in ("child", "grandchild"):
            for _ in range(12):
                if not used_ages & {m["age"] - 1, m["age"], m["age"] + 1} or rng.random() < 0.02:
                    break  # two years apart at least, or twins
                m["age"] = rng.randint(0, max(0, min(head_age - 16, 35)))
            used_ages.add(m["age"])
        adult = m["age"] >= 18
        m["dob"], m["estimated"], m["year"] = _dob(
            rng, m["age"], estimated=rng.random() < (0.12 if adult else 0.04)
        )
        m["document"] = _document(rng) if rng.random() < (0.65 if adult else 0.15) else ""
    return {"phone": phone, "locality": locality, "members": members}


# --- corruption ------------------------------------------------------------------------------

_LETTERS = "abcdefghijklmnoprstuvz"


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.random()
    if kind < 0.3:
        return text[:i] + text[i + 1 :]  # deletion
    if kind < 0.55:
        return text[:i] + rng.choice(_LETTERS) + text[i:]  # insertion
    if kind < 0.8:
        return text[:i] + rng.choice(_LETTERS) + text[i + 1 :]  # substitution
    return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]  # transposition


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _name_variant(rng: random.Random, name) -> str:
    """The name as written at the second registration."""
    if isinstance(name, _Name):
        arabic, latin = name.arabic, list(name.latin)
        if rng.random() < 0.15:  # the other script
            arabic = not arabic
        if not arabic and rng.random() < 0.35:  # another Latin spelling
            latin = [rng.randrange(len(p[0])) for p in name.parts]
        text = _Name(name.parts, latin, arabic).text()
        if arabic:
            return text
    else:
        text = name
    if rng.random() < 0.3:
        text = _strip_accents(text)
    if rng.random() < 0.18:
        text = _typo(rng, text)
    if rng.random() < 0.15:
        text = text.upper()
    return text


def _dob_variant(rng: random.Random, dob: str, estimated: bool, year: int) -> tuple[str, bool, int | None]:
    r = rng.random()
    if estimated or r < 0.05:
        if r < 0.05:
            return "", False, None
        return dob, estimated, year
    y, m, d = dob.split("-")
    if r < 0.15 and int(d) <= 12 and d != m:
        return f"{y}-{d}-{m}", False, year  # day and month swapped
    if r < 0.25:
        return y, True, year  # only the year given the second time
    if r < 0.30:
        digits = list(f"{y}{m}{d}")
        i = rng.choice([3, 5, 7])
        digits[i] = str((int(digits[i]) + rng.choice([1, 9])) % 10)
        text = "".join(digits)
        try:
            dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            return dob, False, year
        return f"{text[:4]}-{text[4:6]}-{text[6:]}", False, int(text[:4])
    return dob, False, year


def _duplicate(rng: random.Random, household: dict, whole: bool) -> dict:
    """The household (or one of its members alone) registered again."""
    r = rng.random()
    phone = household["phone"] if r < 0.5 else _phone(rng) if r < 0.7 else ""
    locality = household["locality"] if rng.random() < 0.7 else _pick(rng, _LOC_ORDER, _LOC_CUM)
    chosen = household["members"] if whole else [rng.choice(household["members"])]
    members = []
    for m in chosen:
        given, family = _name_variant(rng, m["given"]), _name_variant(rng, m["family"])
        if rng.random() < 0.03:
            given, family = family, given
        if rng.random() < 0.02:
            given = ""
        dob, estimated, year = _dob_variant(rng, m["dob"], m["estimated"], m["year"])
        doc = m["document"]
        r = rng.random()
        if doc and r < 0.3:
            doc = ""
        elif doc and r < 0.4:
            doc = _typo(rng, doc)
        sex = m["sex"] if rng.random() > 0.03 else "u"
        relationship = m["relationship"] if whole else "head"
        members.append(
            {
                "relationship": relationship,
                "sex": sex,
                "given_text": given,
                "family_text": family,
                "dob": dob,
                "estimated": estimated,
                "year": year,
                "document": doc,
                "origin": m,
            }
        )
    return {"phone": phone, "locality": locality, "members": members}


def _name_id(name) -> str:
    return " ".join(p[1] for p in name.parts) if isinstance(name, _Name) else name


def _text(name) -> str:
    return name.text() if isinstance(name, _Name) else name


# --- streaming -------------------------------------------------------------------------------


def iter_chunks(n_rows: int, seed: int = 0) -> Iterator[dict[str, list]]:
    """Column dicts of rows, chunk by chunk, exactly ``n_rows`` rows in all."""
    uid = 0
    hh_number = 0
    # Duplicate events per original household, tuned so ~10 % of all rows are duplicates.
    event_rate = DUPLICATE_SHARE / (1 - DUPLICATE_SHARE) / (0.7 + 0.3 / 4.7) / 1.05
    for k in itertools.count():
        if uid >= n_rows:
            return
        rng = random.Random(f"{seed}:{k}")
        households = []
        for _ in range(CHUNK_HOUSEHOLDS):
            hh = _household(rng)
            households.append(hh)
            if rng.random() < event_rate:
                whole = rng.random() < 0.7
                households.append(("dup", hh, whole))
                if rng.random() < 0.05:
                    households.append(("dup", hh, whole))
        # Households in a shuffled order, so duplicates sit among originals as in a real registry.
        order = list(range(len(households)))
        rng.shuffle(order)
        placed: list[tuple[str, dict]] = []
        for i in order:
            h = households[i]
            placed.append(("orig", h) if isinstance(h, dict) else ("dup", _duplicate(rng, h[1], h[2])))
        for _kind, h in placed:
            hh_number += 1
            h["ref"] = f"H{hh_number:07d}"
            for j, m in enumerate(h["members"], start=1):
                m["uid"] = uid
                uid += 1
                m["ref"] = f"{h['ref']}-{j}"
        cols: dict[str, list] = {c: [] for c in COLUMNS}
        pending_rows = []
        for kind, h in placed:
            for m in h["members"]:
                if kind == "orig":
                    given, family, cluster = _text(m["given"]), _text(m["family"]), m["uid"]
                else:
                    given, family, cluster = m["given_text"], m["family_text"], m["origin"]["uid"]
                pending_rows.append(
                    (
                        m["uid"],
                        m["ref"],
                        h["ref"],
                        cluster,
                        m["relationship"],
                        given,
                        family,
                        m["sex"],
                        m["dob"],
                        m["estimated"],
                        m["year"],
                        "national_id" if m["document"] else "",
                        m["document"],
                        h["phone"],
                        h["locality"],
                    )
                )
        remaining = n_rows - (uid - len(pending_rows))
        pending_rows = pending_rows[:remaining]
        for row in pending_rows:
            for c, v in zip(COLUMNS, row, strict=True):
                cols[c].append(v)
        yield cols


def frames(n_rows: int, seed: int = 0):
    """pyarrow Tables, chunk by chunk."""
    import pyarrow as pa

    schema = arrow_schema()
    for cols in iter_chunks(n_rows, seed):
        yield pa.Table.from_pydict(cols, schema=schema)


def arrow_schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("unique_id", pa.int64()),
            ("individual_id", pa.string()),
            ("household_id", pa.string()),
            ("cluster_id", pa.int64()),
            ("relationship", pa.string()),
            ("given_name", pa.string()),
            ("family_name", pa.string()),
            ("sex", pa.string()),
            ("date_of_birth", pa.string()),
            ("dob_estimated", pa.bool_()),
            ("birth_year", pa.int32()),
            ("document_type", pa.string()),
            ("document_number", pa.string()),
            ("phone", pa.string()),
            ("location_pcode", pa.string()),
        ]
    )


def write(path: Path, n_rows: int, seed: int = 0) -> int:
    """Write ``n_rows`` rows to a .parquet or .csv file (streaming); returns the rows written."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path = Path(path)
    written = 0
    if path.suffix == ".parquet":
        with pq.ParquetWriter(path, arrow_schema(), compression="zstd") as out:
            for table in frames(n_rows, seed):
                out.write_table(table)
                written += table.num_rows
    else:
        with pacsv.CSVWriter(path, arrow_schema()) as out:
            for table in frames(n_rows, seed):
                out.write_table(table)
                written += table.num_rows
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="out.parquet or out.csv")
    parser.add_argument("rows", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    n = write(args.path, args.rows, args.seed)
    print(f"{n:,} rows → {args.path} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()

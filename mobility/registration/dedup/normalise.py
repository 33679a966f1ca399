"""Normalisation of the values deduplication compares: names (with transliteration), dates of birth, phones.

Pure functions on strings, no Django: the file tool, the app and the benchmarks call the same code.

- `name_clean("  Dona  MARÍA-José ") == "maria jose"`: Unicode-folded, Latin script, lower case,
  no accents, punctuation or honorifics, single spaces. Arabic-script names are transliterated with
  a letter table (Arabic, Persian and Urdu letters); any other script goes through unidecode.
- `name_key("محمد") == name_key("Mohammed") == name_key("Muhammad") == "mhmd"`: a loose
  "sounds-alike" consonant skeleton. Arabic script writes no short vowels, so the key drops vowels
  (and w, y), folds letters that transliterations spell differently (q/k, c/k, z/s, j/g, ph/f,
  kh/k, sh/s, th/t, dh/d, gh/g), drops a leading article ("al", "el") and word-final h, and
  collapses doubled letters. Spellings of one name in either script usually share a key; unrelated
  names sometimes do too, which is why the key is one comparison level among others, weighted by
  the model, never a decision on its own.
- `dob_parse("07/03/1990")` → `Dob(iso="1990-03-07", year=1990, swapped="1990-07-03", ...)`.
- `phone_key("+258 84 123 4567") == phone_key("0841234567") == "841234567"`: the last nine digits,
  so country prefixes written as +CC, 00CC or a trunk 0 all compare equal.

Every function accepts any string (or None) and never raises.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from unidecode import unidecode

# Arabic-script letters (Arabic, Persian, Urdu) to Latin. Short vowels are not written in Arabic,
# so a transliteration is close to a consonant skeleton; name_key() makes Latin spellings meet it.
ARABIC_TO_LATIN = {
    "\u0621": "",  # ء hamza
    "\u0622": "a",  # آ
    "\u0623": "a",  # أ
    "\u0624": "w",  # ؤ
    "\u0625": "i",  # إ
    "\u0626": "y",  # ئ
    "\u0627": "a",  # ا alif
    "\u0628": "b",  # ب
    "\u0629": "a",  # ة ta marbuta
    "\u062a": "t",  # ت
    "\u062b": "th",  # ث
    "\u062c": "j",  # ج
    "\u062d": "h",  # ح
    "\u062e": "kh",  # خ
    "\u062f": "d",  # د
    "\u0630": "dh",  # ذ
    "\u0631": "r",  # ر
    "\u0632": "z",  # ز
    "\u0633": "s",  # س
    "\u0634": "sh",  # ش
    "\u0635": "s",  # ص
    "\u0636": "d",  # ض
    "\u0637": "t",  # ط
    "\u0638": "z",  # ظ
    "\u0639": "",  # ع ayn: usually unwritten in Latin spellings (Omar, Abdullah)
    "\u063a": "gh",  # غ
    "\u0640": "",  # ـ tatweel
    "\u0641": "f",  # ف
    "\u0642": "q",  # ق
    "\u0643": "k",  # ك
    "\u0644": "l",  # ل
    "\u0645": "m",  # م
    "\u0646": "n",  # ن
    "\u0647": "h",  # ه
    "\u0648": "w",  # و
    "\u0649": "a",  # ى alif maqsura
    "\u064a": "y",  # ي
    "\u0671": "a",  # ٱ alif wasla
    "\u067e": "p",  # پ
    "\u0679": "t",  # ٹ
    "\u0686": "ch",  # چ
    "\u0688": "d",  # ڈ
    "\u0691": "r",  # ڑ
    "\u0698": "zh",  # ژ
    "\u06a9": "k",  # ک
    "\u06af": "g",  # گ
    "\u06ba": "n",  # ں
    "\u06be": "h",  # ھ
    "\u06c1": "h",  # ہ
    "\u06c3": "a",  # ۃ
    "\u06cc": "y",  # ی
    "\u06d2": "e",  # ے
}
_ARABIC_BLOCKS = ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))

# Titles written before a name; removed from the front while another word remains.
HONORIFICS = frozenset(
    "mr mrs ms miss mister dr prof sr sra srta snr snra dona dom mme mlle madame monsieur "
    "sheikh shaikh sheik shaykh haji hajji hajj alhaj alhajj hadji eng engr".split()
)
# Leading Arabic article, as a separate word ("Al Hassan", "El-Amin", "الحسن" → "al hasan").
ARTICLES = frozenset({"al", "el"})

# name_key() folds these spellings (applied in order, then to a fixed point).
_KEY_DIGRAPHS = (
    ("ph", "f"),
    ("ck", "k"),
    ("kh", "k"),
    ("gh", "g"),
    ("sh", "s"),
    ("ch", "s"),
    ("th", "t"),
    ("dh", "d"),
)
_KEY_LETTERS = str.maketrans({"q": "k", "c": "k", "z": "s", "j": "g", "x": "s", "v": "f", "p": "b"})
_KEY_DROPPED = re.compile(r"[aeiouwy]")
_DOUBLES = re.compile(r"(.)\1+")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_SPACES = re.compile(r"\s+")
_ARABIC_ARTICLE = re.compile("(^|\\s)\u0627\u0644(?=\\S)")

PHONE_KEY_DIGITS = 9  # national numbers in MOZ (9), PAK (10), BIH (8-9): the last 9 digits identify one
PHONE_MIN_DIGITS = 6


def _is_arabic(char: str) -> bool:
    code = ord(char)
    return any(lo <= code <= hi for lo, hi in _ARABIC_BLOCKS)


def transliterate(text: str | None) -> str:
    """Latin letters for any script: Arabic-script letters by table, the rest by unidecode."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", str(text))
    out = []
    for char in text:
        if char.isascii():
            out.append(char)
        elif char in ARABIC_TO_LATIN:
            out.append(ARABIC_TO_LATIN[char])
        elif _is_arabic(char):
            digit = unicodedata.digit(char, None)
            if digit is not None:
                out.append(str(digit))
            elif unicodedata.category(char).startswith("M"):
                continue  # harakat (short-vowel marks) and other combining marks
            else:
                out.append(" ")  # Arabic punctuation
        elif unicodedata.category(char) == "Cs":
            continue  # a lone surrogate (broken UTF-16) is not a letter
        else:
            out.append(unidecode(char))
    return "".join(out)


def _arabic_article_split(text: str) -> str:
    # "الحسن" is one word in Arabic script; write its article apart as Latin spellings do ("Al Hassan").
    return _ARABIC_ARTICLE.sub("\\1\u0627\u0644 ", text)


def name_clean(text: str | None) -> str:
    """A name for comparison: Latin script, lower case, no accents, punctuation or leading honorifics."""
    if not text:
        return ""
    latin = transliterate(_arabic_article_split(unicodedata.normalize("NFKC", str(text)))).lower()
    latin = _NOT_WORD.sub(" ", latin.replace("'", "").replace("`", ""))
    words = latin.split()
    while len(words) > 1 and words[0] in HONORIFICS:
        words.pop(0)
    return " ".join(words)


def _key_word(word: str) -> str:
    previous = None
    while word != previous:
        previous = word
        for pair, single in _KEY_DIGRAPHS:
            word = word.replace(pair, single)
        word = word.translate(_KEY_LETTERS)
        if len(word) > 1 and word.endswith("h"):
            word = word[:-1]
        word = _KEY_DROPPED.sub("", word)
        word = _DOUBLES.sub(r"\1", word)
    return word


def name_key(text: str | None) -> str:
    """A consonant skeleton shared by spellings of one name across scripts ("محمد", "Mohammed" → "mhmd")."""
    words = name_clean(text).split()
    if len(words) > 1 and words[0] in ARTICLES:
        words = words[1:]
    words = [w for w in words if not w.isdigit()]
    key = _key_word("".join(words))
    return key if key else _key_word("".join(name_clean(text).split()))


def text_clean(text: str | None) -> str:
    """An address or place name for comparison: like name_clean but keeping honorific-like words."""
    if not text:
        return ""
    latin = transliterate(text).lower()
    return " ".join(_NOT_WORD.sub(" ", latin.replace("'", "")).split())


def code_clean(text: str | None) -> str:
    """A document number or postcode: letters and digits only, upper case ("ab-12 345" → "AB12345")."""
    if not text:
        return ""
    return re.sub(r"[^A-Z0-9]", "", transliterate(text).upper())


# --- phones ---------------------------------------------------------------------------------------


def phone_digits(text: str | None) -> str:
    """The digits of a phone number, in any script ("+258 ٨٤-123" → "25884123")."""
    if not text:
        return ""
    out = []
    for char in str(text):
        if char.isdigit():
            digit = unicodedata.digit(char, None)
            if digit is not None:
                out.append(str(digit))
    return "".join(out)


def phone_key(text: str | None) -> str:
    """The comparable part of a phone: its last 9 digits ("" when fewer than 6 digits).

    "+258 84 123 4567", "00258841234567", "0841234567" and "841234567" share "841234567", whatever
    the country prefix and trunk zero; numbers of 6 to 9 digits are kept whole (without a trunk 0).
    """
    digits = phone_digits(text)
    if len(digits) > PHONE_KEY_DIGITS:
        return digits[-PHONE_KEY_DIGITS:]
    digits = digits.lstrip("0")
    return digits if len(digits) >= PHONE_MIN_DIGITS else ""


# --- dates of birth -------------------------------------------------------------------------------

YEAR_MIN = 1880
YEAR_MAX = 2100


@dataclass(frozen=True)
class Dob:
    """A date of birth as deduplication compares it (all None when unreadable).

    `iso` is "YYYY-MM-DD" when day, month and year were read (even a day the calendar lacks, e.g. a
    typo "1990-02-30", so typos still compare); `swapped` the same date with day and month exchanged
    (None when that is not a date or is the same); `year` the year; `days` days since 1970-01-01
    for real calendar days; `precision` "day", "year" or None.
    """

    iso: str | None = None
    swapped: str | None = None
    year: int | None = None
    days: int | None = None
    precision: str | None = None


_EPOCH = dt.date(1970, 1, 1)
_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ].*)?$")
_DMY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")
_MONTH_YEAR = re.compile(r"^(\d{1,2})[-/.](\d{4})$|^(\d{4})[-/.](\d{1,2})$")


def _dob(year: int, month: int, day: int) -> Dob:
    if not (YEAR_MIN <= year <= YEAR_MAX):
        return Dob()
    if not (1 <= month <= 12 and 1 <= day <= 31):
        if 1 <= day <= 12 and 1 <= month <= 31:
            month, day = day, month  # written month first (MM/DD/YYYY)
        else:
            return Dob(year=year, precision="year")
    iso = f"{year:04d}-{month:02d}-{day:02d}"
    swapped = f"{year:04d}-{day:02d}-{month:02d}" if day <= 12 and day != month else None
    try:
        days = (dt.date(year, month, day) - _EPOCH).days
    except ValueError:
        days = None
    return Dob(iso=iso, swapped=swapped, year=year, days=days, precision="day")


def dob_parse(text: str | None) -> Dob:
    """Read a date of birth written as ISO, YYYYMMDD, DD/MM/YYYY (also - or .), MM/YYYY or a year alone."""
    if text is None:
        return Dob()
    if isinstance(text, dt.datetime):
        text = text.date()
    if isinstance(text, dt.date):
        return _dob(text.year, text.month, text.day)
    value = _ascii_digits(str(text)).strip()
    if not value:
        return Dob()
    if m := _ISO.match(value):
        return _dob(int(m[1]), int(m[2]), int(m[3]))
    if m := _DMY.match(value):
        return _dob(int(m[3]), int(m[2]), int(m[1]))
    if m := _COMPACT.match(value):
        return _dob(int(m[1]), int(m[2]), int(m[3]))
    year = None
    if m := _YEAR.match(value):
        year = int(m[1])
    elif m := _MONTH_YEAR.match(value):
        year = int(m[2] or m[3])
    if year is not None and YEAR_MIN <= year <= YEAR_MAX:
        return Dob(year=year, precision="year")
    return Dob()


def _ascii_digits(text: str) -> str:
    # Dates written in Arabic-Indic digits read like ASCII ones.
    out = []
    for char in text:
        if char.isdigit() and not char.isascii():
            digit = unicodedata.digit(char, None)
            out.append(str(digit) if digit is not None else char)
        else:
            out.append(char)
    return "".join(out)


SEXES = {
    "f": "f",
    "female": "f",
    "woman": "f",
    "girl": "f",
    "feminino": "f",
    "mulher": "f",
    "femme": "f",
    "w": "f",
    "m": "m",
    "male": "m",
    "man": "m",
    "boy": "m",
    "masculino": "m",
    "homem": "m",
    "homme": "m",
    "h": "m",
    "\u0630\u0643\u0631": "m",  # ذكر
    "\u0623\u0646\u062b\u0649": "f",  # أنثى
}


def sex_clean(text: str | None) -> str:
    """Sex as "f", "m" or "" (unknown), from the usual spellings in English, Portuguese, French and Arabic."""
    if not text:
        return ""
    value = unicodedata.normalize("NFKC", str(text)).strip().lower()
    if value in SEXES:
        return SEXES[value]
    return SEXES.get(unidecode(value).strip(), "")

"""Pieces every restrictions importer shares: source profiles, cell parsers, HTML → plain text.

Parsers return a value or raise ``CellError`` with a message that names what is wrong; the reader
turns it into a ``RowError`` with the row and column, so one bad cell never hides the others.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

from mobility.core.imports import ImportFailed
from mobility.core.tables import MAX_COUNT

PROFILES_DIR = Path(__file__).resolve().parent.parent / "data" / "profiles"

PROFILE_UNKNOWN = _('No restrictions source profile "{name}"; the shipped ones are: {names}.')
PROFILE_BROKEN = _('The source profile "{name}" is not usable: {reason}')
COLUMNS_MISSING = _("The file has no column {columns} (the profile or template needs it); it has: {found}.")
NO_OPERATION = _("Choose the operation these rows belong to (--operation SLUG).")

DATE_INVALID = _("is not a date in the form {form}")
INT_INVALID = _("is not a whole number")
INT_NEGATIVE = _("is negative")
INT_TOO_LARGE = _("is larger than any count (at most 2,147,483,647)")
CHOICE_UNKNOWN = _("is not one of {allowed}")
REQUIRED = _("is empty; it is required")


class CellError(ValueError):
    """A cell that cannot be read; the message says why (the reader adds row and column)."""


# --- source profiles ---------------------------------------------------------------------------


def profiles_shipped() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.json"))


def profile_load(name: str, override: dict | None = None) -> dict:
    """The shipped profile ``name``, or ``override`` (a profile a user gave for a new edition of the file)."""
    if override:
        if not isinstance(override, dict) or "columns" not in override:
            raise ImportFailed(str(PROFILE_BROKEN.format(name=name, reason='it needs a "columns" mapping')))
        return override
    path = PROFILES_DIR / f"{name}.json"
    if not path.exists():
        raise ImportFailed(str(PROFILE_UNKNOWN.format(name=name, names=", ".join(profiles_shipped()))))
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ImportFailed(str(PROFILE_BROKEN.format(name=name, reason=exc)))


def columns_require(found: list[str], wanted: list[str]) -> None:
    """Stop the import (nothing stored) when the file lacks a column the mapping reads."""
    missing = [c for c in wanted if c not in found]
    if missing:
        raise ImportFailed(
            str(
                COLUMNS_MISSING.format(
                    columns=", ".join(f'"{c}"' for c in missing), found=", ".join(found[:40])
                )
            )
        )


def column_pick(found: list[str], names: tuple[str, ...]) -> str | None:
    """The first of ``names`` (any case) that the file has."""
    lower = {c.lower(): c for c in found}
    for name in names:
        if name.lower() in lower:
            return lower[name.lower()]
    return None


# --- cells -------------------------------------------------------------------------------------


def date_parse(text: str, formats: tuple[str, ...] = ("%Y-%m-%d",), form: str = "YYYY-MM-DD") -> dt.date:
    text = (text or "").strip()
    # A spreadsheet date cell arrives as "2021-03-04T00:00:00" from some writers.
    if "T" in text and text[:4].isdigit():
        text = text.split("T", 1)[0]
    for fmt in formats:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise CellError(str(DATE_INVALID.format(form=form)))


def count_parse(text: str) -> int | None:
    """A non-negative whole number, or None for an empty cell ("1,200" and "1200.0" are read)."""
    text = (text or "").strip().replace(",", "").replace(" ", "")
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise CellError(str(INT_INVALID))
    if not number.is_integer():
        raise CellError(str(INT_INVALID))
    if number < 0:
        raise CellError(str(INT_NEGATIVE))
    if number > MAX_COUNT:
        raise CellError(str(INT_TOO_LARGE))
    return int(number)


def choice_key(text: str) -> str:
    return " ".join((text or "").strip().lower().replace("_", " ").replace("-", " ").split())


def choice_parse(text: str, choices, synonyms: dict[str, str] | None = None) -> str:
    """A TextChoices value from its value, its English label or a synonym, in any case."""
    key = choice_key(text)
    table = {choice_key(v): v for v in choices.values}
    table.update({choice_key(str(label)): v for v, label in choices.choices})
    table.update({choice_key(k): v for k, v in (synonyms or {}).items()})
    if key in table:
        return table[key]
    raise CellError(str(CHOICE_UNKNOWN.format(allowed=", ".join(choices.values))))


def choice_list_parse(text: str, choices, synonyms: dict[str, str] | None = None) -> list[str]:
    """A semicolon list of choices, in the enumeration's order, each once."""
    values = {choice_parse(part, choices, synonyms) for part in re.split(r"[;|]", text or "") if part.strip()}
    return [v for v in choices.values if v in values]


_URL = URLValidator(schemes=["http", "https"])


def url_clean(text: str, max_length: int = 500) -> str:
    """The text when it is one http(s) URL that fits the field, else ""."""
    text = (text or "").strip()
    if not text or len(text) > max_length or any(c.isspace() for c in text):
        return ""
    try:
        _URL(text)
    except ValidationError:
        return ""
    return text


# --- HTML → plain text ---------------------------------------------------------------------------

_BLOCK_TAGS = {"br", "p", "div", "ul", "ol", "tr", "table", "hr", "h1", "h2", "h3", "h4", "h5", "h6"}
_INLINE_TAGS = {"a", "b", "strong", "i", "em", "u", "span", "font", "sup", "sub", "small", "td", "th", "li"}
_SKIP_TAGS = {"script", "style"}
_KNOWN = sorted(_BLOCK_TAGS | _INLINE_TAGS | _SKIP_TAGS | {"tbody", "thead", "img"}, key=len, reverse=True)
_NOT_A_TAG = re.compile(r"<(?!\s*/?\s*(?:" + "|".join(_KNOWN) + r")\b)", re.IGNORECASE)
# A "<" whose tag never closes (no ">" before the next "<"): text, not a tag. html.parser would look
# for the ">" from every such "<" to the end of the cell, which is quadratic ("<a " 30,000 times
# takes minutes); escaped first, the parser sees text and reads the cell in one pass.
_UNCLOSED_TAG = re.compile(r"<(?![^<>]*>)")
_TYPO_TAGS = (
    (re.compile(r"<ahref=", re.IGNORECASE), "<a href="),  # WFP cells write "<ahref=..."
    (re.compile(r"<b[et]\s*>", re.IGNORECASE), "<br>"),  # "<be>", "<bt>" typed for "<br>"
    (re.compile(r"<br\s*<(?=\s)", re.IGNORECASE), "<br>"),  # "<br<" typed for "<br>"
    # "< /a>" and "</ a>": a browser would show them as text; they were meant as tags.
    (re.compile(r"<\s*(/?)\s*(?=(?:" + "|".join(_KNOWN) + r")\b)", re.IGNORECASE), r"<\1"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class _TextParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[dict] = []
        self._href: str | None = None
        self._link_text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        tag = tag.lower()
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "li":
            self.parts.append("\n• ")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._link_text = []

    def handle_startendtag(self, tag, attrs):
        if tag.lower() in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        tag = tag.lower()
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"}:
            self.parts.append("\n")
        elif tag == "a" and self._href is not None:
            url = url_clean(self._href)
            if url and all(link["url"] != url for link in self.links):
                title = " ".join("".join(self._link_text).split())[:200]
                self.links.append({"title": title, "url": url})
            self._href = None

    def handle_data(self, data):
        if self._skip:
            return
        self.parts.append(data)
        if self._href is not None:
            self._link_text.append(data)


def html_to_text(value: str, *, max_chars: int = 20_000) -> tuple[str, list[dict]]:
    """Plain text (line breaks kept, tags and entities gone) and the http(s) links of an HTML cell.

    Stored text never holds markup, so a page shows it as text whatever it contains; a "<" that
    does not open a known tag ("<Israel’s Ministry…") is kept as text, not eaten as a tag.
    """
    # Control characters go first: inside a tag they make the parser give the tag back as text.
    value = _CONTROL.sub("", value or "")
    for pattern, replacement in _TYPO_TAGS:
        value = pattern.sub(replacement, value)
    value = _NOT_A_TAG.sub("&lt;", value)
    value = _UNCLOSED_TAG.sub("&lt;", value)
    parser = _TextParser()
    parser.feed(value)
    parser.close()
    text = _CONTROL.sub("", "".join(parser.parts)).replace("\r", "\n").replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if len(text) > max_chars:
        text = text[: max_chars - 1].rstrip() + "…"
    return text, parser.links[:20]


def headline(text: str) -> str:
    """The first line of a text, up to its first full stop: WFP's category ("Quarantine requirement at …")."""
    for line in (text or "").split("\n"):
        line = line.strip(" •")
        if line:
            return re.split(r"(?<=[.!?])\s", line, maxsplit=1)[0]
    return ""


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text or "") if s.strip()]

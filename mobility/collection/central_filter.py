"""OData ``$filter`` for the Central-compatible API: a small, safe parser of comparisons on ``__system``
fields (and/or/not, parentheses, year() … second(), now(), null) into a Django ``Q`` on the annotated
submissions of ``central_odata.current_submissions``. Anything it cannot use is a FilterError saying
what and where.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

MAX_FILTER_LENGTH = 4000
MAX_FILTER_DEPTH = 32

TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<open>\()|(?P<close>\))
    |(?P<string>'(?:[^']|'')*')
    |(?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)
    |(?P<number>-?\d+(?:\.\d+)?)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)""",
    re.VERBOSE,
)
COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
FLIPPED = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}
DATE_PARTS = {"year", "month", "day", "hour", "minute", "second"}
# OData property → (annotation or column, kind)
FILTER_FIELDS = {
    "__system/submissionDate": ("odata_submission_date", "datetime"),
    "__system/updatedAt": ("odata_updated_at", "datetime"),
    "__system/submitterId": ("submitted_by_id", "integer"),
    "__system/reviewState": ("odata_review_state", "string"),
}
MILLISECOND = dt.timedelta(milliseconds=1)


class FilterError(ValueError):
    """A $filter that cannot be used; the message says what and where."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    at: int


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(f"the expression is longer than {MAX_FILTER_LENGTH} characters")
    tokens, position = [], 0
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None:
            raise FilterError(f"unexpected character {text[position]!r} at position {position + 1}")
        if match.lastgroup != "space":
            tokens.append(Token(match.lastgroup, match.group(), position + 1))
        position = match.end()
    return tokens


def parse_datetime(text: str) -> dt.datetime:
    """An OData date or date-time literal; a time without an offset is UTC."""
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2})(:\d{2})?(\.\d+)?(Z|[+-]\d{2}:\d{2})?)?", text)
    if match is None:
        raise FilterError(f"{text!r} is not a date-time")
    day, hm, seconds, fraction, offset = match.groups()
    normal = f"{day}T{hm or '00:00'}{seconds or ':00'}"
    if fraction:
        normal += "." + (fraction[1:] + "000000")[:6]
    normal += "+00:00" if offset in (None, "Z") else offset
    try:
        return dt.datetime.fromisoformat(normal)
    except ValueError:
        raise FilterError(f"{text!r} is not a valid date-time") from None


def instant_window(op: str, when: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None] | None:
    """Bounds [low, high) on a stored time for ``op`` against ``when``, as the millisecond time shown.

    Times are shown (and so copied into filters) to the millisecond; comparing the shown value
    keeps "gt the last one I saw" from returning it again. None means nothing can match.
    """
    floor = when.replace(microsecond=when.microsecond // 1000 * 1000)
    aligned = floor == when
    ceil = floor if aligned else floor + MILLISECOND
    if op == "gt":
        return floor + MILLISECOND, None
    if op == "ge":
        return ceil, None
    if op == "lt":
        return None, ceil
    if op == "le":
        return None, floor + MILLISECOND
    if op == "eq":
        return (floor, floor + MILLISECOND) if aligned else None
    raise ValueError(op)


@dataclass
class Operand:
    kind: str  # "field" | "literal"
    field: str = ""
    part: str = ""  # year() … second() applied to a date field
    value: object = None
    literal: str = ""  # "datetime" | "number" | "string" | "null"
    text: str = ""


class FilterParser:
    """expr := or; or := and ('or' and)*; and := unary ('and' unary)*; unary := 'not' unary | '(' expr ')' | cmp."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    def parse(self) -> Q:
        if not self.tokens:
            raise FilterError("the expression is empty")
        result = self.or_()
        if self.index < len(self.tokens):
            token = self.tokens[self.index]
            raise FilterError(f"unexpected {token.text!r} at position {token.at}")
        return result

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise FilterError("the expression ends too early")
        self.index += 1
        return token

    def word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "name" and token.text in words

    def or_(self) -> Q:
        result = self.and_()
        while self.word("or"):
            self.take()
            result = result | self.and_()
        return result

    def and_(self) -> Q:
        result = self.unary()
        while self.word("and"):
            self.take()
            result = result & self.unary()
        return result

    def unary(self) -> Q:
        self.depth += 1
        if self.depth > MAX_FILTER_DEPTH:
            raise FilterError(f"the expression nests deeper than {MAX_FILTER_DEPTH} levels")
        try:
            if self.word("not"):
                self.take()
                return ~self.unary()
            token = self.peek()
            if token is not None and token.kind == "open":
                self.take()
                inner = self.or_()
                closing = self.peek()
                if closing is None:
                    raise FilterError(f"the '(' at position {token.at} is never closed")
                self.take()
                if closing.kind != "close":
                    raise FilterError(f"expected ')' at position {closing.at}, found {closing.text!r}")
                return inner
            return self.comparison()
        finally:
            self.depth -= 1

    def operand(self) -> Operand:
        token = self.take()
        if token.kind == "datetime":
            return Operand("literal", value=parse_datetime(token.text), literal="datetime", text=token.text)
        if token.kind == "number":
            value = float(token.text) if "." in token.text else int(token.text)
            return Operand("literal", value=value, literal="number", text=token.text)
        if token.kind == "string":
            return Operand(
                "literal", value=token.text[1:-1].replace("''", "'"), literal="string", text=token.text
            )
        if token.kind != "name":
            raise FilterError(f"expected a field or a value at position {token.at}, found {token.text!r}")
        if token.text == "null":
            return Operand("literal", literal="null", text="null")
        if token.text == "now":
            self.expect("open")
            self.expect("close")
            return Operand("literal", value=timezone.now(), literal="datetime", text="now()")
        if token.text in DATE_PARTS:
            self.expect("open")
            inner = self.take()
            if inner.kind != "name" or FILTER_FIELDS.get(inner.text, ("", ""))[1] != "datetime":
                raise FilterError(f"{token.text}() takes __system/submissionDate or __system/updatedAt")
            self.expect("close")
            return Operand("field", field=inner.text, part=token.text, text=f"{token.text}({inner.text})")
        if token.text not in FILTER_FIELDS:
            known = ", ".join(FILTER_FIELDS)
            raise FilterError(f"cannot filter on {token.text!r} (at position {token.at}); use one of {known}")
        return Operand("field", field=token.text, text=token.text)

    def expect(self, kind: str) -> None:
        token = self.take()
        if token.kind != kind:
            raise FilterError(f"expected {'(' if kind == 'open' else ')'} at position {token.at}")

    def comparison(self) -> Q:
        left = self.operand()
        token = self.take()
        if token.kind != "name" or token.text not in COMPARISONS:
            raise FilterError(
                f"expected eq, ne, gt, ge, lt or le at position {token.at}, found {token.text!r}"
            )
        op = token.text
        right = self.operand()
        if left.kind == "literal" and right.kind == "field":
            left, right, op = right, left, FLIPPED[op]
        if left.kind != "field" or right.kind != "literal":
            raise FilterError(f"compare a field with a value near position {token.at}")
        return compare(left, op, right)


LOOKUPS = {"eq": "exact", "gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}


def _atom(column: str, op: str, value, *, lookup: str = "") -> Q:
    """One comparison that is true or false, never SQL's unknown: a missing value compares false,
    so ``ne`` and ``not`` keep rows without a value (updatedAt of a never-edited submission)."""
    if op == "ne":
        return ~_atom(column, "eq", value, lookup=lookup)
    target = f"{column}__{lookup}" if lookup else column
    return Q(**{f"{column}__isnull": False}) & Q(**{f"{target}__{LOOKUPS[op]}": value})


def compare(field: Operand, op: str, literal: Operand) -> Q:
    column, kind = FILTER_FIELDS[field.field]
    if literal.literal == "null":
        if op not in ("eq", "ne") or field.part:
            raise FilterError(f"{field.text} can only be compared with null using eq or ne")
        return Q(**{f"{column}__isnull": op == "eq"})
    if field.part:
        if literal.literal != "number" or not isinstance(literal.value, int):
            raise FilterError(f"compare {field.text} with a whole number")
        return _atom(column, op, literal.value, lookup=field.part)
    if kind == "datetime":
        if literal.literal != "datetime":
            raise FilterError(
                f"compare {field.text} with a date-time such as 2026-01-31T00:00:00Z, not {literal.text}"
            )
        if op == "ne":
            return ~compare(field, "eq", literal)
        window = instant_window(op, literal.value)
        if window is None:
            return Q(pk__in=[])
        low, high = window
        q = Q(**{f"{column}__isnull": False})
        if low is not None:
            q &= Q(**{f"{column}__gte": low})
        if high is not None:
            q &= Q(**{f"{column}__lt": high})
        return q
    if kind == "integer":
        value = literal.value if literal.literal == "number" else None
        if literal.literal == "string" and literal.value.isdigit():
            value = int(literal.value)
        if not isinstance(value, int):
            raise FilterError(f"compare {field.text} with a whole number, not {literal.text}")
        return _atom(column, op, value)
    if literal.literal != "string" or op not in ("eq", "ne"):
        raise FilterError(f"compare {field.text} with a quoted value using eq or ne")
    return _atom(column, op, literal.value)


def parse_filter(text: str) -> Q:
    """An OData $filter on __system fields as a Q on annotated submissions; FilterError if unusable."""
    return FilterParser(text).parse()

"""XLSForm → XForm with pyxform, the form's field list, and parsing of submitted instances.

Parsing is hostile-input safe: defusedxml refuses DTDs and entities (no billion laughs, no external
entities), bodies and depth are bounded, and every failure is a ``FormError`` / ``InstanceError``
with a message fit for the person who sent it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

MAX_XLSFORM_UNZIPPED = 100 * 2**20  # an XLSX whose parts unzip to more is refused (zip bomb)
MAX_ZIP_RATIO = 200
MAX_INSTANCE_BYTES = 10 * 2**20
MAX_DEPTH = 32
MAX_ELEMENTS = 200_000  # a real instance has thousands at most; more is only CPU and memory to burn
MAX_ID_CHARS = 255  # the database columns of form ids and instanceIDs
PERSONAL_COLUMNS = ("personal_data", "personal", "pii", "sensitive")
TRUE_WORDS = {"yes", "true", "1", "y", "x", "personal", "pii"}

XLSFORM_NOT_XLSX = "{name}: not an XLSForm workbook (.xlsx); it could not be opened as one"
XLSFORM_BOMB = "{name}: the workbook unzips to more than {limit} MB; refused"
XLSFORM_NO_ID = "{name}: the form has no form_id (settings sheet) and no file name to take one from"
XLSFORM_UNREADABLE = "{name}: the workbook could not be read as an XLSForm ({reason})"
XLSFORM_UNSAFE_XML = (
    "{name}: the workbook's XML declares a DTD or entities, which are not allowed; "
    "save it again from a spreadsheet program"
)
XLSFORM_TOO_DEEP = (
    "{name}: groups and repeats nest deeper than {limit} levels, deeper than a submission may; "
    "flatten the form"
)
XLSFORM_NOT_XML_TEXT = (
    '{name}: "{question}" holds a control character, which an XForm cannot carry; remove it and upload again'
)
INSTANCE_TOO_LARGE = "the submission is larger than {limit} MB"
INSTANCE_NOT_XML = "the submission is not well-formed XML: {detail}"
INSTANCE_FORBIDDEN = "the submission declares a DTD or entities, which are not allowed"
INSTANCE_TOO_DEEP = "the submission nests elements deeper than {limit} levels"
INSTANCE_NO_FORM_ID = "the submission's root element has no id attribute (the form id)"
INSTANCE_NO_ID = "the submission has no meta/instanceID"
INSTANCE_TOO_MANY = "the submission has more than {limit} elements"
INSTANCE_ENCODING = "the submission declares an encoding that is not known: {detail}"
INSTANCE_ID_TOO_LONG = "the submission's {what} is longer than {limit} characters"


class FormError(Exception):
    """An XLSForm that cannot be published; the message is pyxform's own where it comes from pyxform."""


class InstanceError(Exception):
    pass


# pyxform's words when the file is not a workbook it can open (a zip that is not an XLSX, say).
_PYXFORM_NOT_A_WORKBOOK = "was not recognized as a supported type"
# Characters XML 1.0 does not allow: in a label they make the XForm unreadable by every phone.
_NOT_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


@dataclass
class Converted:
    xml_form_id: str
    version: str
    version_generated: bool
    title: str
    xml: str
    default_language: str
    languages: list[str]
    fields: list[dict]
    choices: dict
    warnings: list[str] = field(default_factory=list)
    survey_json: dict = field(default_factory=dict, repr=False)

    @property
    def xml_md5(self) -> str:
        return hashlib.md5(self.xml.encode(), usedforsecurity=False).hexdigest()


def _check_zip(data: bytes, name: str) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise FormError(XLSFORM_NOT_XLSX.format(name=name)) from None
    total = 0
    for info in archive.infolist():
        total += info.file_size
        if total > MAX_XLSFORM_UNZIPPED or (
            info.compress_size
            and info.file_size / info.compress_size > MAX_ZIP_RATIO
            and info.file_size > 2**20
        ):
            raise FormError(XLSFORM_BOMB.format(name=name, limit=MAX_XLSFORM_UNZIPPED // 2**20))


def _personal_names(data: bytes) -> set[str]:
    """Question names the survey sheet marks as personal data (a `personal_data` / `pii` column)."""
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheet = next((n for n in workbook.sheet_names if n.strip().lower() == "survey"), None)
        rows = workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False) if sheet else []
    except Exception:  # pyxform reports the real problem in convert()
        return set()
    if not rows:
        return set()
    header = [str(h).strip().lower() for h in rows[0]]
    if "name" not in header:
        return set()
    name_at = header.index("name")
    marks = [i for i, h in enumerate(header) if h in PERSONAL_COLUMNS]
    names = set()
    for row in rows[1:]:
        for i in marks:
            if i < len(row) and str(row[i]).strip().lower() in TRUE_WORDS and str(row[name_at]).strip():
                names.add(str(row[name_at]).strip())
    return names


def _labels(value) -> dict:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return {"default": str(value)}


GROUP_TYPES = {"group", "repeat", "survey"}
NO_VALUE_TYPES = {"note"}


def fields_of(survey_json: dict, personal: set[str]) -> list[dict]:
    """Every question with its path as it appears in submissions ("grp/q"), type, labels and list."""
    out: list[dict] = []

    def walk(children, prefix: str, repeat: str, inherited: bool) -> None:
        for child in children or []:
            kind, name = child.get("type", ""), child.get("name", "")
            path = f"{prefix}{name}"
            marked = inherited or name in personal  # a personal group makes everything in it personal
            if kind in ("group", "repeat") or (
                kind == "" and child.get("children") and "list_name" not in child
            ):
                walk(child.get("children"), f"{path}/", path if kind == "repeat" else repeat, marked)
                if kind == "repeat":
                    out.append(
                        {
                            "path": path,
                            "name": name,
                            "type": "repeat",
                            "labels": _labels(child.get("label")),
                            "list": "",
                            "personal": marked,
                            "repeat": repeat,
                        }
                    )
                continue
            if kind in NO_VALUE_TYPES:
                continue
            out.append(
                {
                    "path": path,
                    "name": name,
                    "type": kind,
                    "labels": _labels(child.get("label")),
                    "list": child.get("list_name") or child.get("itemset") or "",
                    "personal": marked,
                    "repeat": repeat,
                }
            )

    walk(survey_json.get("children"), "", "", False)
    return out


def choices_of(survey_json: dict) -> dict:
    return {
        list_name: {str(item.get("name")): _labels(item.get("label")) for item in items}
        for list_name, items in (survey_json.get("choices") or {}).items()
    }


def _with_version(xml: str, id_given: str, form_id: str, version: str) -> str | None:
    """Set id and version on the primary instance's root without regenerating the XML (None if unsure)."""
    start = xml.find("<instance>")
    if (
        start < 0
        or f'id="{id_given}"' not in xml[start : start + 500]
        or "version=" in xml[start : start + 500]
    ):
        return None
    at = xml.index(f'id="{id_given}"', start)
    attribute = (
        f'id="{escape(form_id, {chr(34): "&quot;"})}" version="{escape(version, {chr(34): "&quot;"})}"'
    )
    return xml[:at] + attribute + xml[at + len(f'id="{id_given}"') :]


def xlsform_convert(data: bytes, name: str) -> Converted:
    """Convert an XLSForm; a pyxform error is raised as FormError with pyxform's own message."""
    if Path(name).suffix.lower() in (".xlsx", ".xlsm"):
        _check_zip(data, name)
    try:
        converted = _convert(data, name)
    except RecursionError:
        raise FormError(XLSFORM_TOO_DEEP.format(name=name, limit=MAX_DEPTH - 1)) from None
    deepest = max((f["path"].count("/") + 1 for f in converted.fields), default=0)
    if deepest > MAX_DEPTH - 1:  # instance_parse refuses deeper submissions
        raise FormError(XLSFORM_TOO_DEEP.format(name=name, limit=MAX_DEPTH - 1))
    if _NOT_XML_TEXT.search(converted.xml):
        question = _holding_not_xml_text(converted.survey_json) or "a label"
        raise FormError(XLSFORM_NOT_XML_TEXT.format(name=name, question=question))
    return converted


def _holding_not_xml_text(node, name: str = "") -> str | None:
    """The name of the question (or choice) whose texts hold a character XML does not allow."""
    if isinstance(node, str):
        return name if _NOT_XML_TEXT.search(node) else None
    if isinstance(node, dict):
        here = str(node.get("name") or name)
        values = node.values()
    elif isinstance(node, list):
        here, values = name, node
    else:
        return None
    for value in values:
        found = _holding_not_xml_text(value, here)
        if found is not None:
            return found
    return None


def _causes(exc: BaseException, limit: int = 10):
    """The exception and those it was raised from or during."""
    while exc is not None and limit:
        yield exc
        exc, limit = exc.__cause__ or exc.__context__, limit - 1


def _convert(data: bytes, name: str) -> Converted:
    from pyxform import xls2xform
    from pyxform.errors import PyXFormError

    warnings: list[str] = []
    stem = Path(name).stem
    try:
        result = xls2xform.convert(
            xlsform=io.BytesIO(data),
            warnings=warnings,
            form_name=None,
            file_type=Path(name).suffix.lower() or ".xlsx",
        )
    except PyXFormError as exc:
        if _PYXFORM_NOT_A_WORKBOOK in str(exc):
            raise FormError(XLSFORM_NOT_XLSX.format(name=name)) from None
        raise FormError(f"{name}: {exc}") from None
    except (zipfile.BadZipFile, zlib.error, KeyError, ValueError, TypeError, SyntaxError, EOFError) as exc:
        # SyntaxError: ElementTree's ParseError, for a workbook part that is not well-formed XML.
        # openpyxl re-raises defusedxml's refusal as "Unable to read workbook": look behind it.
        if any(isinstance(e, DefusedXmlException) for e in _causes(exc)):
            raise FormError(XLSFORM_UNSAFE_XML.format(name=name)) from None
        raise FormError(XLSFORM_UNREADABLE.format(name=name, reason=type(exc).__name__)) from None
    survey = result._survey
    survey_json = survey.to_json_dict()
    form_id = survey.id_string if survey.id_string not in ("", None, "data") else stem
    if not form_id:
        raise FormError(XLSFORM_NO_ID.format(name=name))
    id_given = survey.id_string
    survey.id_string = form_id
    generated = not survey.version
    xml = result.xform
    if generated or id_given != form_id:
        # Phones identify a form by id + version: a form without one gets a timestamp version.
        # (pyxform's XML is regenerated only then; it is the slow part for large forms.)
        if generated:
            survey.version = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
        xml = _with_version(xml, id_given, form_id, survey.version) or survey.to_xml(
            validate=False, pretty_print=False
        )  # as xls2xform.convert: no ODK Validate
    languages = sorted(
        {lang for f in fields_of(survey_json, set()) for lang in f["labels"] if lang != "default"}
    )
    title = survey.title if survey.title and survey.title != survey.name else form_id
    return Converted(
        xml_form_id=form_id,
        version=str(survey.version),
        version_generated=generated,
        title=str(title)[:255],
        xml=xml,
        default_language=str(survey.default_language or ""),
        languages=languages,
        fields=fields_of(survey_json, _personal_names(data)),
        choices=choices_of(survey_json),
        warnings=[str(w) for w in warnings],
        survey_json=survey_json,
    )


@dataclass
class Instance:
    xml_form_id: str
    version: str
    instance_id: str
    deprecated_id: str
    data: dict

    @property
    def content_sha256(self) -> str:
        content = {k: v for k, v in self.data.items() if not k.startswith("meta/")}
        return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _flatten(element, prefix: str, repeats: set[str], depth: int) -> dict:
    if depth > MAX_DEPTH:
        raise InstanceError(INSTANCE_TOO_DEEP.format(limit=MAX_DEPTH))
    out: dict = {}
    children = list(element)
    counts: dict[str, int] = {}
    for child in children:
        counts[_local(child.tag)] = counts.get(_local(child.tag), 0) + 1
    for child in children:
        name = _local(child.tag)
        path = f"{prefix}{name}"
        if path in repeats or counts[name] > 1:
            if not len(child) and (child.text or "").strip():
                # A repeated question (not a group): keep each answer, as an entry of its own.
                out.setdefault(path, []).append({path: child.text.strip()})
            else:
                out.setdefault(path, []).append(_flatten(child, f"{path}/", repeats, depth + 1))
        elif len(child):
            out.update(_flatten(child, f"{path}/", repeats, depth + 1))
        else:
            out[path] = (child.text or "").strip()
    return out


def instance_parse(raw: bytes, repeats: set[str] | None = None) -> Instance:
    """Parse a submitted instance (OpenRosa XML) into its form id, version, ids and flat values."""
    if len(raw) > MAX_INSTANCE_BYTES:
        raise InstanceError(INSTANCE_TOO_LARGE.format(limit=MAX_INSTANCE_BYTES // 2**20))
    try:
        root = SafeET.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise InstanceError(INSTANCE_FORBIDDEN) from None
    except SafeET.ParseError as exc:
        raise InstanceError(INSTANCE_NOT_XML.format(detail=str(exc)[:200])) from None
    except LookupError as exc:  # <?xml encoding="x-unknown"?>
        raise InstanceError(INSTANCE_ENCODING.format(detail=str(exc)[:100])) from None
    if any(n > MAX_ELEMENTS for n, _ in enumerate(root.iter())):
        raise InstanceError(INSTANCE_TOO_MANY.format(limit=MAX_ELEMENTS))
    form_id = root.get("id") or ""
    if not form_id:
        raise InstanceError(INSTANCE_NO_FORM_ID)
    if len(form_id) > MAX_ID_CHARS:
        raise InstanceError(INSTANCE_ID_TOO_LONG.format(what="form id", limit=MAX_ID_CHARS))
    data = _flatten(root, "", repeats or set(), 1)
    instance_id = str(data.get("meta/instanceID") or "").strip()
    if not instance_id:
        raise InstanceError(INSTANCE_NO_ID)
    if len(instance_id) > MAX_ID_CHARS:
        # Cut, two different instances could share an id: refuse rather than merge them.
        raise InstanceError(INSTANCE_ID_TOO_LONG.format(what="meta/instanceID", limit=MAX_ID_CHARS))
    return Instance(
        xml_form_id=form_id,
        version=root.get("version") or "",
        instance_id=instance_id,
        deprecated_id=str(data.get("meta/deprecatedID") or "").strip()[:255],
        data=data,
    )


def repeat_paths(fields: list[dict]) -> set[str]:
    return {f["path"] for f in fields if f.get("type") == "repeat"}


def content_sha256(data: dict) -> str:
    content = {k: v for k, v in data.items() if not k.startswith("meta/") and not k.startswith("_")}
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _element(tag: str, value) -> str:
    if isinstance(value, dict):
        return f"<{tag}>" + "".join(_element(k, v) for k, v in value.items()) + f"</{tag}>"
    if isinstance(value, list):
        return "".join(_element(tag, v) for v in value)
    return f"<{tag}>{escape(str(value))}</{tag}>"


def instance_build(form_id: str, version: str, instance_id: str, body: dict, deprecated: str = "") -> bytes:
    """An OpenRosa instance as ODK Collect writes it: a dict is a group, a list is a repeat."""
    meta = {"instanceID": instance_id, **({"deprecatedID": deprecated} if deprecated else {})}
    return (
        f'<?xml version="1.0"?><data xmlns:orx="http://openrosa.org/xforms" id="{escape(form_id)}" '
        f'version="{escape(version)}">'
        + "".join(_element(k, v) for k, v in {**body, "meta": meta}.items())
        + "</data>"
    ).encode()

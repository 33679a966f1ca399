"""OData of the Central-compatible API (see central_api.py): Central's problems, the form's schema read
from its XForm, the $metadata document, Submissions and repeat-table rows typed as Central types them,
the query options ($top, $skip, $count, $wkt, $expand, $select, $filter) and the submissions query.
Personal fields are left out of schema and rows alike unless ``selectors.personal_allowed``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import re
from dataclasses import dataclass, replace
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from defusedxml import ElementTree as SafeET
from django.db.models import Case, CharField, Count, DateTimeField, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.http import HttpRequest, JsonResponse

from .central_filter import FilterError, parse_filter
from .models import Attachment, Form, FormVersion, Submission
from .selectors import personal_allowed, visible_values

log = logging.getLogger(__name__)

MAX_PAGING = 2**53  # larger $top / $skip mean "all" / "past the end"; the database limit is 2**63


def iso(value: dt.datetime | None) -> str | None:
    """A time as Central writes it: UTC, milliseconds, 'Z'."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------- problems (Central's error shape)


class Problem(Exception):
    """An error answered as Central does: HTTP status = int(code), body {"message", "code"}."""

    def __init__(self, code: float, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.details = code, message, details

    def response(self) -> JsonResponse:
        body = {"message": self.message, "code": self.code}
        if self.details:
            body["details"] = self.details
        return JsonResponse(body, status=int(self.code))


UNPARSEABLE = (400.1, "Could not parse the given data ({length} chars) as json.")
MISSING_PARAMETERS = (400.3, "Required parameters missing. Expected (email, password).")
UNEXPECTED_VALUE = (400.8, "Unexpected {field} value {value}; {reason}")
BAD_FILTER = (400.18, "The OData filter expression you provided could not be parsed: {reason}")
NO_PROPERTY = (400.23, "Could not find a property named '{property}'")
SELECT_IN_REPEAT = (
    400.24,
    "The given OData select property '{property}' uses features not supported by this server.",
)
AUTH_FAILED = (401.2, "Could not authenticate with the provided credentials.")
HTTPS_ONLY = (401.3, "This authentication method is only available over HTTPS")
NO_RIGHTS = (403.1, "The authentication you provided does not have rights to perform that action.")
NOT_FOUND = (404.1, "Could not find the resource you were looking for.")
NOT_ALLOWED = (405.1, "This resource does not accept the {method} method.")
BAD_EXPAND = (
    501.6,
    'The given OData expand expression is not supported by this server: "{text}". Currently, only "$expand=*" is supported.',
)
SELECT_WITH_EXPAND = (501.11, "This server doesn't support $select query parameter with $expand.")


def problem(kind: tuple[float, str], **values) -> Problem:
    code, message = kind
    return Problem(code, message.format(**values))


# ---------------------------------------------------------------- the form's schema (from its XForm)


def odata_name(name: str) -> str:
    """A name fit for OData (Central's rule): a leading non-letter gets '_', other characters → '_'."""
    name = re.sub(r"^([^A-Za-z_])", r"_\1", name)
    return re.sub(r"[^A-Za-z0-9_]+", "_", name)


@dataclass(frozen=True)
class Node:
    """A field of the form: a value (with its XForm bind type), a group ('structure') or a repeat."""

    name: str
    path: str  # "grp/q", relative to the instance root, as Submission.data keys are
    kind: str  # "value" | "structure" | "repeat"
    type: str = "string"
    children: tuple[Node, ...] = ()

    @property
    def key(self) -> str:
        return odata_name(self.name)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


@functools.lru_cache(maxsize=64)
def schema_of(xml: str) -> tuple[Node, ...]:
    """The instance tree of an XForm, typed by its binds, repeats from the body (as Central reads it)."""
    try:
        html = SafeET.fromstring(xml.encode(), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except Exception:  # a stored form always parsed once; be safe rather than fail the whole API
        log.warning("form XML could not be parsed for the OData schema")
        return ()
    model = next((e for e in html.iter() if _local(e.tag) == "model"), None)
    instance = (
        next((e for e in model if _local(e.tag) == "instance" and not e.get("id")), None) if model else None
    )
    if instance is None or not len(instance):
        return ()
    root = list(instance)[0]
    root_prefix = f"/{_local(root.tag)}/"

    def relative(nodeset: str) -> str:
        nodeset = "/".join(_local(part) for part in nodeset.strip().split("/"))
        return nodeset[len(root_prefix) :] if nodeset.startswith(root_prefix) else nodeset.lstrip("/")

    binds = {
        relative(e.get("nodeset")): (e.get("type") or "string").rsplit(":", 1)[-1]
        for e in model.iter()
        if _local(e.tag) == "bind" and e.get("nodeset")
    }
    repeats = {
        relative(e.get("nodeset")) for e in html.iter() if _local(e.tag) == "repeat" and e.get("nodeset")
    }

    def walk(element, prefix: str) -> tuple[Node, ...]:
        nodes: dict[str, Node] = {}
        for child in element:
            name = _local(child.tag)
            path = f"{prefix}{name}"
            if name in nodes:  # a repeat's jr:template and its first instance
                continue
            if path in repeats:
                nodes[name] = Node(name, path, "repeat", children=walk(child, f"{path}/"))
            elif path in binds:
                nodes[name] = Node(name, path, "value", binds[path])
            elif len(child):
                nodes[name] = Node(name, path, "structure", children=walk(child, f"{path}/"))
            else:
                nodes[name] = Node(name, path, "value")
        return tuple(nodes.values())

    return walk(root, "")


def visible_schema(nodes: tuple[Node, ...], personal: set[str]) -> tuple[Node, ...]:
    """The schema without personal fields (for users who may not see them)."""
    out = []
    for node in nodes:
        if node.kind == "value":
            if node.path not in personal:
                out.append(node)
        else:
            out.append(replace(node, children=visible_schema(node.children, personal)))
    return tuple(out)


def form_schema(form: Form, user) -> tuple[Node, ...]:
    nodes = schema_of(form.current_version.xml)
    if personal_allowed(user, form.operation):
        return nodes
    return visible_schema(nodes, form.current_version.personal_paths)


def _find(nodes: tuple[Node, ...], key: str) -> Node | None:
    return next((n for n in nodes if n.key == key), None)


def repeat_tables(nodes: tuple[Node, ...], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every repeat as its table parts: ("grp", "member") for Submissions.grp.member."""
    tables = []
    for node in nodes:
        parts = (*prefix, node.key)
        if node.kind == "repeat":
            tables.append(parts)
        if node.children:
            tables.extend(repeat_tables(node.children, parts))
    return tables


def resolve_table(nodes: tuple[Node, ...], parts: list[str]) -> list[Node]:
    """The chain of nodes a table (or navigation) path walks through; 404 if it is not a repeat."""
    chain: list[Node] = []
    current = nodes
    for part in parts:
        node = _find(current, part)
        if node is None or node.kind == "value":
            raise problem(NOT_FOUND)
        chain.append(node)
        current = node.children
    if chain and chain[-1].kind != "repeat":
        raise problem(NOT_FOUND)
    return chain


# ---------------------------------------------------------------- EDMX ($metadata)

EDM_TYPES = {
    "int": "Edm.Int64",
    "decimal": "Edm.Decimal",
    "boolean": "Edm.Boolean",
    "geopoint": "Edm.GeographyPoint",
    "geotrace": "Edm.GeographyLineString",
    "geoshape": "Edm.GeographyPolygon",
    "date": "Edm.Date",
    "dateTime": "Edm.DateTimeOffset",
}

SYSTEM_TYPES = """    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="org.opendatakit.submission">
      <ComplexType Name="metadata">
        <Property Name="submissionDate" Type="Edm.DateTimeOffset"/>
        <Property Name="updatedAt" Type="Edm.DateTimeOffset"/>
        <Property Name="submitterId" Type="Edm.String"/>
        <Property Name="submitterName" Type="Edm.String"/>
        <Property Name="attachmentsPresent" Type="Edm.Int64"/>
        <Property Name="attachmentsExpected" Type="Edm.Int64"/>
        <Property Name="status" Type="org.opendatakit.submission.Status"/>
        <Property Name="reviewState" Type="org.opendatakit.submission.ReviewState"/>
        <Property Name="deviceId" Type="Edm.String"/>
        <Property Name="edits" Type="Edm.Int64"/>
        <Property Name="formVersion" Type="Edm.String"/>
      </ComplexType>
      <EnumType Name="Status">
        <Member Name="notDecrypted"/>
        <Member Name="missingEncryptedFormData"/>
      </EnumType>
      <EnumType Name="ReviewState">
        <Member Name="hasIssues"/>
        <Member Name="edited"/>
        <Member Name="rejected"/>
        <Member Name="approved"/>
      </EnumType>
    </Schema>
"""

PRIMARY_ANNOTATIONS = """          <Annotation Term="Org.OData.Capabilities.V1.ConformanceLevel" EnumMember="Org.OData.Capabilities.V1.ConformanceLevelType/Minimal"/>
          <Annotation Term="Org.OData.Capabilities.V1.BatchSupported" Bool="false"/>
          <Annotation Term="Org.OData.Capabilities.V1.CountRestrictions">
            <Record><PropertyValue Property="Countable" Bool="true"/></Record>
          </Annotation>
          <Annotation Term="Org.OData.Capabilities.V1.SortRestrictions">
            <Record><PropertyValue Property="Sortable" Bool="false"/></Record>
          </Annotation>
"""


def edmx(xml_form_id: str, nodes: tuple[Node, ...]) -> str:
    """The metadata document: Submissions and one entity type per repeat, groups as complex types."""
    base = f"org.opendatakit.user.{odata_name(xml_form_id)}"
    entities: list[tuple[str, list[str], bool]] = []  # (name, property lines, primary)
    complexes: list[tuple[str, list[str]]] = []

    def properties(
        children: tuple[Node, ...], parts: tuple[str, ...], repeat_parts: tuple[str, ...]
    ) -> list[str]:
        lines = []
        for node in children:
            here = (*parts, node.key)
            if node.kind == "value":
                lines.append(f'<Property Name="{node.key}" Type="{EDM_TYPES.get(node.type, "Edm.String")}"/>')
            elif node.kind == "structure":
                type_name, props = ".".join(here), []
                complexes.append((type_name, props))  # in document order, before what it contains
                props += properties(node.children, here, repeat_parts)
                lines.append(f'<Property Name="{node.key}" Type="{base}.{type_name}"/>')
            else:
                entity = "Submissions." + ".".join(here)
                parent = "-".join(("Submissions", *repeat_parts))
                props = [f'<Property Name="__{parent}-id" Type="Edm.String"/>']
                entities.append((entity, props, False))
                props += properties(node.children, here, here)
                lines.append(f'<NavigationProperty Name="{node.key}" Type="Collection({base}.{entity})"/>')
        return lines

    primary = ['<Property Name="__system" Type="org.opendatakit.submission.metadata"/>']
    primary += properties(nodes, (), ())
    entities.insert(0, ("Submissions", primary, True))

    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">',
        "  <edmx:DataServices>",
        SYSTEM_TYPES.rstrip("\n"),
        f'    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="{base}">',
    ]
    for name, props, _primary in entities:
        out.append(f'      <EntityType Name="{name}">')
        out.append('        <Key><PropertyRef Name="__id"/></Key>')
        out.append('        <Property Name="__id" Type="Edm.String"/>')
        out += [f"        {line}" for line in props]
        out.append("      </EntityType>")
    for name, props in complexes:
        out.append(f'      <ComplexType Name="{name}">')
        out += [f"        {line}" for line in props]
        out.append("      </ComplexType>")
    out.append(f"      <EntityContainer Name={quoteattr(xml_form_id)}>")
    for name, _props, is_primary in entities:
        out.append(f'        <EntitySet Name="{name}" EntityType="{base}.{name}">')
        if is_primary:
            out.append(PRIMARY_ANNOTATIONS.rstrip("\n"))
        out.append("        </EntitySet>")
    out += ["      </EntityContainer>", "    </Schema>", "  </edmx:DataServices>", "</edmx:Edmx>", ""]
    return "\n".join(out)


# ---------------------------------------------------------------- values as Central types them


def _numbers(text: str) -> list[float | None]:
    out = []
    for part in text.split():
        try:
            value = float(part)
        except ValueError:
            value = None
        out.append(value if value is None or value == value and abs(value) != float("inf") else None)
    return out


def _point(text: str) -> tuple[list[float], float | None] | None:
    numbers = _numbers(text) + [None] * 4
    lat, lon, altitude, accuracy = numbers[:4]
    if lat is None or lon is None:
        return None
    coordinates = [lon, lat] + ([altitude] if altitude is not None else [])
    return coordinates, accuracy


def _geo(kind: str, text: str, wkt: bool):
    if kind == "geopoint":
        point = _point(text)
        if point is None:
            return None
        coordinates, accuracy = point
        if wkt:
            return f"POINT ({' '.join(_num(c) for c in coordinates)})"
        value: dict = {"type": "Point", "coordinates": coordinates}
        if accuracy is not None:
            value["properties"] = {"accuracy": accuracy}
        return value
    points = [p for p in (_point(s) for s in text.split(";") if s.strip()) if p is not None]
    if not points:
        return None
    if wkt:
        inner = ",".join(" ".join(_num(c) for c in p[0]) for p in points)
        return f"LINESTRING ({inner})" if kind == "geotrace" else f"POLYGON (({inner}))"
    coordinates = [p[0] for p in points]
    value = (
        {"type": "LineString", "coordinates": coordinates}
        if kind == "geotrace"
        else {"type": "Polygon", "coordinates": [coordinates]}
    )
    accuracies = [p[1] for p in points]
    if any(a is not None for a in accuracies):
        value["properties"] = {"accuracies": accuracies}
    return value


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


INT_PREFIX = re.compile(r"^\s*([+-]?\d+)")


def typed(node: Node, raw, *, wkt: bool = False):
    """A submitted text as Central types it in OData JSON (empty → null)."""
    if not isinstance(raw, str) or raw == "":
        return None
    kind = node.type
    if kind == "int":
        match = INT_PREFIX.match(raw)
        return int(match.group(1)) if match else None
    if kind == "decimal":
        number = _numbers(raw.strip())
        return number[0] if len(number) == 1 else None
    if kind == "boolean":
        return {"true": True, "1": True, "false": False, "0": False}.get(raw.strip().lower())
    if kind in ("geopoint", "geotrace", "geoshape"):
        return _geo(kind, raw, wkt)
    if kind == "dateTime":
        text = raw.strip()
        return f"{text}:00" if re.search(r"[+-]\d\d$", text) else text
    return raw


# ---------------------------------------------------------------- rows (entities) of Submissions and repeats


@dataclass
class RowOptions:
    link_id: str  # the submission's __id
    wkt: bool = False
    expand: bool = False

    @property
    def link_root(self) -> str:
        return f"Submissions('{quote_id(self.link_id)}')"


def _items(scope: dict, path: str) -> list[dict]:
    """The iterations of a repeat in a flat scope ({"rpt": [{"rpt/q": ...}]})."""
    value = scope.get(path)
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    # A one-entry repeat parsed without the form's repeat list stays flat ("rpt/q" keys).
    nested = {k: v for k, v in scope.items() if k.startswith(f"{path}/")}
    return [nested] if nested else []


def _row_id(parts: list[str]) -> str:
    return hashlib.sha1("%%".join(parts).encode(), usedforsecurity=False).hexdigest()


def _iterations(node: Node, items: list[dict], ids: list[str]):
    """Each iteration of a repeat with the parts of its id and its row id (a hash of them, as Central's)."""
    for index, item in enumerate(items, 1):
        row_ids = [*ids, f"{node.name}#{index}"]
        yield item, row_ids, _row_id(row_ids)


def quote_id(value: str) -> str:
    return quote(value, safe="-_.!~*'()")  # JavaScript's encodeURIComponent, as Central's links


def frame(
    nodes: tuple[Node, ...], scope: dict, options: RowOptions, links: list[str], ids: list[str]
) -> dict:
    """The values of one table row: groups nested, repeats linked (or inlined with $expand=*)."""
    out: dict = {}
    for node in nodes:
        key = node.key
        if node.kind == "value":
            out[key] = typed(node, scope.get(node.path), wkt=options.wkt)
        elif node.kind == "structure":
            out[key] = frame(node.children, scope, options, [*links, key], [*ids, f"{node.name}#"])
        else:
            items = _items(scope, node.path)
            if not items:
                continue
            out[f"{key}@odata.navigationLink"] = "/".join([*links, key])
            if options.expand:
                rows = []
                for item, row_ids, row_id in _iterations(node, items, ids):
                    row = {"__id": row_id}
                    row.update(frame(node.children, item, options, [*links, f"{key}('{row_id}')"], row_ids))
                    rows.append(row)
                out[key] = rows
    return out


def repeat_rows(chain: list[Node], scope: dict, options: RowOptions, keys: dict[int, str]) -> list[dict]:
    """The rows of the repeat table at the end of ``chain`` (groups and repeats from the root) for one
    submission. ``keys`` keeps only some iterations along the way ({index in chain: row id}), for
    navigation links such as Submissions('id')/member('…')/phone.
    """
    out: list[dict] = []
    link_key = parent_key(chain)

    def walk(depth: int, scope: dict, links: list[str], ids: list[str], parent: str) -> None:
        node = chain[depth]
        if node.kind == "structure":
            walk(depth + 1, scope, [*links, node.key], [*ids, f"{node.name}#"], parent)
            return
        for item, row_ids, row_id in _iterations(node, _items(scope, node.path), ids):
            if keys.get(depth, row_id) != row_id:
                continue
            here = [*links, f"{node.key}('{row_id}')"]
            if depth == len(chain) - 1:
                row = {"__id": row_id, link_key: parent}
                row.update(frame(node.children, item, options, here, row_ids))
                out.append(row)
            else:
                walk(depth + 1, item, here, row_ids, row_id)

    walk(0, scope, [options.link_root], [f"Submissions#{options.link_id}"], options.link_id)
    return out


def parent_key(chain: list[Node]) -> str:
    """The row's link to its enclosing table: __Submissions-id, __Submissions-member-id, …"""
    enclosing = chain[:-1]
    last = max((i for i, n in enumerate(enclosing) if n.kind == "repeat"), default=-1)
    return "__" + "-".join(["Submissions", *[n.key for n in enclosing[: last + 1]]]) + "-id"


def binary_names(nodes: tuple[Node, ...], scope: dict) -> set[str]:
    """File names the submission's media questions refer to (attachments expected)."""
    names: set[str] = set()
    for node in nodes:
        if node.kind == "value":
            value = scope.get(node.path)
            if node.type == "binary" and isinstance(value, str) and value.strip():
                names.add(value.strip())
        elif node.kind == "structure":
            names |= binary_names(node.children, scope)
        else:
            for item in _items(scope, node.path):
                names |= binary_names(node.children, item)
    return names


# ---------------------------------------------------------------- $select


def select_tree(select: str, nodes: tuple[Node, ...], *, primary: bool, parent_key: str) -> dict | None:
    """$select as a tree of output keys (True = the whole subtree); None when absent or '*'."""
    select = (select or "").strip()
    if not select or select == "*":
        return None
    tree: dict = {"__id": True}
    for prop in filter(None, (p.strip() for p in select.split(","))):
        if prop in ("__id", parent_key):
            tree[prop] = True
            continue
        if primary and (prop == "__system" or prop.startswith("__system/")):
            sub = prop.partition("/")[2]
            if sub not in SYSTEM_FIELDS:
                raise problem(NO_PROPERTY, property=prop)
            _select_add(tree, ["__system", sub] if sub else ["__system"])
            continue
        parts, current = prop.split("/"), nodes
        for depth, part in enumerate(parts):
            node = _find(current, part)
            if node is None or (node.kind == "value" and depth < len(parts) - 1):
                raise problem(NO_PROPERTY, property=prop)
            if node.kind == "repeat" and depth < len(parts) - 1:
                raise problem(SELECT_IN_REPEAT, property=prop)
            current = node.children
        _select_add(tree, parts)
    return tree


def _select_add(tree: dict, parts: list[str]) -> None:
    branch = tree
    for part in parts[:-1]:
        sub = branch.get(part)
        if sub is True:
            return  # the whole subtree is selected already
        branch = branch.setdefault(part, {})
    branch[parts[-1]] = True


def prune(row: dict, tree: dict | None) -> dict:
    """Keep only the selected keys (a repeat's navigation link goes with the repeat's name)."""
    if tree is None:
        return row
    out = {}
    for key, value in row.items():
        sub = tree.get(key.split("@", 1)[0])
        if sub is None:
            continue
        out[key] = prune(value, sub) if isinstance(sub, dict) and isinstance(value, dict) else value
    return out


SYSTEM_FIELDS = {
    "",
    "submissionDate",
    "updatedAt",
    "submitterId",
    "submitterName",
    "attachmentsPresent",
    "attachmentsExpected",
    "status",
    "reviewState",
    "deviceId",
    "edits",
    "formVersion",
    "deletedAt",
}


# ---------------------------------------------------------------- the submissions query


def current_submissions(form: Form):
    """Current versions (edits in place of what they replaced) with Central's __system times."""
    root_date = Submission.objects.filter(
        form_id=OuterRef("form_id"), instance_id=OuterRef("root_id")
    ).values("submitted_at")[:1]
    edited = ~Q(root_id=F("instance_id"))
    return (
        Submission.objects.filter(form=form, superseded_by__isnull=True)
        .defer("raw")
        .annotate(
            odata_submission_date=Coalesce(
                Subquery(root_date), F("submitted_at"), output_field=DateTimeField()
            ),
            odata_updated_at=Case(
                When(corrected_at__isnull=False, then=F("corrected_at")),
                When(edited, then=F("submitted_at")),
                default=Value(None),
                output_field=DateTimeField(),
            ),
            odata_review_state=Case(
                When(status=Submission.Status.NEEDS_ATTENTION, then=Value("hasIssues")),
                When(edited, then=Value("edited")),
                default=Value(None),
                output_field=CharField(),
            ),
        )
        .order_by("-odata_submission_date", "-pk")
    )


@dataclass
class Query:
    """The OData query options of a request, checked."""

    top: int | None
    skip: int
    count: bool
    wkt: bool
    expand: bool
    select: str
    filter: Q | None

    @classmethod
    def of(cls, request: HttpRequest) -> Query:
        params = request.GET

        def whole(name: str) -> int | None:
            text = params.get(name)
            if text is None or text == "":
                return None
            if not re.fullmatch(r"\d+", text.strip()):
                raise problem(
                    UNEXPECTED_VALUE, field=name, value=text[:40], reason="expected a whole number, 0 or more"
                )
            return min(int(text), MAX_PAGING)

        expand = params.get("$expand", "")
        if expand and expand != "*":
            raise problem(BAD_EXPAND, text=expand[:100])
        select = params.get("$select", "")
        if expand and select and select != "*":
            raise problem(SELECT_WITH_EXPAND)
        text = params.get("$filter", "")
        try:
            condition = parse_filter(text) if text.strip() else None
        except FilterError as exc:
            raise problem(BAD_FILTER, reason=str(exc)) from None
        return cls(
            top=whole("$top"),
            skip=whole("$skip") or 0,
            count=params.get("$count", "").strip().lower() == "true",
            wkt=params.get("$wkt", "").strip().lower() == "true",
            expand=expand == "*",
            select=select,
            filter=condition,
        )

    @property
    def end(self) -> int | None:
        """Where the page ends (past the last row), None for all the rows from ``skip``."""
        return None if self.top is None else self.skip + self.top

    def row_options(self, link_id: str) -> RowOptions:
        return RowOptions(link_id=link_id, wkt=self.wkt, expand=self.expand)


def versions_of(form: Form) -> dict[int, FormVersion]:
    return {v.pk: v for v in FormVersion.objects.filter(form=form).only("id", "form_id", "version", "fields")}


def _prepare(form: Form, submissions: list[Submission], versions: dict[int, FormVersion]) -> None:
    """Attach the form and versions already loaded, so visible_values asks the database nothing."""
    for submission in submissions:
        submission.form = form
        if submission.form_version_id in versions:
            submission.form_version = versions[submission.form_version_id]


def system_of(submission: Submission, *, attachments: int, expected: int, edits: int) -> dict:
    return {
        "submissionDate": iso(submission.odata_submission_date),
        "updatedAt": iso(submission.odata_updated_at),
        "submitterId": str(submission.submitted_by_id) if submission.submitted_by_id else None,
        "submitterName": submission.enumerator or None,
        "attachmentsPresent": attachments,
        "attachmentsExpected": expected,
        "status": None,
        "reviewState": submission.odata_review_state,
        "deviceId": submission.device_id or None,
        "edits": edits,
        "formVersion": submission.version_string,
        "deletedAt": None,
    }


# ---------------------------------------------------------------- resource paths and pages of rows


NAVIGATION = re.compile(r"^(?P<name>[^(]+)(?:\('(?P<key>(?:[^']|'')*)'\))?$")


def resource_of(rest: str, nodes: tuple[Node, ...]) -> tuple[str | None, list[Node], dict[int, str]]:
    """An OData resource path → (submission __id or None, chain of nodes to the table, iteration keys).

    "Submissions", "Submissions.member", "Submissions('uuid:1')", "Submissions('uuid:1')/member('ab12')/phone".
    """
    segments = []
    for part in rest.split("/"):
        match = NAVIGATION.match(part)
        if match is None:
            raise problem(NOT_FOUND)
        key = match.group("key")
        segments.append((match.group("name"), None if key is None else key.replace("''", "'")))
    (first, instance), navigation = segments[0], segments[1:]
    table_parts = first.split(".")
    if (
        table_parts[0] != "Submissions"
        or (instance is None and navigation)
        or (instance and len(table_parts) > 1)
    ):
        raise problem(NOT_FOUND)
    path = table_parts[1:] if instance is None else [name for name, _key in navigation]
    keys = {depth: key for depth, (_name, key) in enumerate(navigation) if key is not None}
    chain = resolve_table(nodes, path)
    if any(chain[depth].kind != "repeat" for depth in keys):
        raise problem(NOT_FOUND)  # only repeat iterations have keys
    return instance, chain, keys


def submission_rows(form, nodes, submissions, query: Query, allowed: bool, versions):
    """One page of Submissions rows (with __system) and the total the query matches."""
    total = submissions.count() if (query.count or query.top is not None) else None
    page = list(submissions[query.skip : query.end])
    if total is None:
        total = query.skip + len(page)
    _prepare(form, page, versions)
    ids = [s.pk for s in page]
    attached: dict[int, set[str]] = {}
    for submission_id, name in Attachment.objects.filter(submission_id__in=ids).values_list(
        "submission_id", "name"
    ):
        attached.setdefault(submission_id, set()).add(name)
    roots = [s.root_id for s in page if s.root_id != s.instance_id]
    chains = {}
    if roots:
        chains = dict(
            Submission.objects.filter(form=form, root_id__in=roots)
            .order_by()
            .values("root_id")
            .annotate(n=Count("id"))
            .values_list("root_id", "n")
        )
    full_schema = schema_of(form.current_version.xml)
    tree = select_tree(query.select, nodes, primary=True, parent_key="__id")
    rows = []
    for submission in page:
        options = query.row_options(submission.root_id)
        values = visible_values(submission, allowed_personal=allowed)
        row = {"__id": submission.root_id}
        row.update(frame(nodes, values, options, [options.link_root], [f"Submissions#{submission.root_id}"]))
        expected = binary_names(full_schema, submission.values)
        row["__system"] = system_of(
            submission,
            attachments=len(expected & attached.get(submission.pk, set())),
            expected=len(expected),
            edits=chains.get(submission.root_id, 1) - 1,
        )
        rows.append(prune(row, tree))
    return rows, total


def repeat_table(form, chain, keys, submissions, query: Query, allowed: bool, versions):
    """One page of a repeat table's rows and how many rows it has in all."""
    tree = select_tree(query.select, chain[-1].children, primary=False, parent_key=parent_key(chain))
    rows, total = [], 0
    for submission in submissions.iterator(chunk_size=500):
        _prepare(form, [submission], versions)
        values = visible_values(submission, allowed_personal=allowed)
        options = query.row_options(submission.root_id)
        for row in repeat_rows(chain, values, options, keys):
            if total >= query.skip and (query.end is None or total < query.end):
                rows.append(prune(row, tree))
            total += 1
    return rows, total

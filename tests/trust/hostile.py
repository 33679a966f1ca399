"""Tools of the hostile-input suite: a time and memory budget, makers of hostile files, and the world
they are sent into (``hostile_world``: test modules import the fixture from here).

``send`` runs a file as a user's upload does (``job_create`` then ``run``); ``assert_clear_refusal``
checks the three promises of a refused file: a message of its own (never the internal-error one),
short, and nothing stored.

Every maker is cheap: a zip bomb is written from one compressed block repeated (deflate blocks
flushed with Z_FULL_FLUSH are byte-aligned and independent), so a file that unpacks to gigabytes
costs a few milliseconds and a megabyte to make, and nothing here ever holds the unpacked bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import resource
import signal
import struct
import threading
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError

from mobility.core.models import ImportJob, Membership, Operation, Role

MB = 2**20


class BudgetExceeded(BaseException):
    """A case ran past its time limit. BaseException: no ``except Exception`` may swallow it."""


# ---------------------------------------------------------------- time and memory


def _rss() -> int:
    """Resident set size of this process now (bytes)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: the peak is the best there is
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _RssWatch(threading.Thread):
    """Samples the RSS every few milliseconds and keeps the peak."""

    def __init__(self):
        super().__init__(daemon=True)
        self.base = self.peak = _rss()
        self._done = threading.Event()

    def run(self):
        while not self._done.wait(0.005):
            self.peak = max(self.peak, _rss())

    def stop(self) -> int:
        self._done.set()
        self.join()
        self.peak = max(self.peak, _rss())
        return self.peak - self.base


# (what, CPU seconds, RSS growth in bytes) of every budgeted block of this process, for reports.
MEASURED: list[tuple[str, float, int]] = []

# A block may take this many times its CPU budget in wall time (the machine is shared) before the
# alarm stops it as hung: a parser waiting on the network uses no CPU, so wall time must be bounded too.
WALL_FACTOR = 4


@contextmanager
def budget(seconds: float = 10.0, memory_mb: float = 256.0, *, what: str = "the case"):
    """Fail unless the block uses at most ``seconds`` of CPU and grows the RSS by at most ``memory_mb``.

    A block still running after WALL_FACTOR × ``seconds`` is interrupted (SIGALRM), so a hang fails
    the test instead of stalling CI.
    """
    watch = _RssWatch()
    watch.start()

    def expired(signum, frame):
        raise BudgetExceeded(f"{what} was still running after {seconds * WALL_FACTOR:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds * WALL_FACTOR)
    started = time.process_time()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        grown = watch.stop()
    took = time.process_time() - started
    MEASURED.append((what, took, grown))
    assert took <= seconds, f"{what} used {took:.1f} s of CPU (limit {seconds:g} s)"
    assert grown <= memory_mb * MB, f"{what} grew the RSS by {grown / MB:.0f} MB (limit {memory_mb:g} MB)"


# ---------------------------------------------------------------- zip archives


def deflate_repeat(
    unit: bytes, times: int, prefix: bytes = b"", suffix: bytes = b""
) -> tuple[bytes, int, int]:
    """(raw deflate data, crc32, size) of prefix + unit * times + suffix, without building it."""
    head = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = head.compress(prefix) + head.flush(zlib.Z_FULL_FLUSH)
    repeated = block.compress(unit) + block.flush(zlib.Z_FULL_FLUSH)
    end = tail.compress(suffix) + tail.flush()
    crc = zlib.crc32(prefix)
    for _ in range(times):
        crc = zlib.crc32(unit, crc)
    crc = zlib.crc32(suffix, crc)
    return data + repeated * times + end, crc & 0xFFFFFFFF, len(prefix) + len(unit) * times + len(suffix)


def zip_archive(members: list[tuple[str, bytes | tuple]]) -> bytes:
    """A zip of (name, bytes) or (name, (deflated, crc, size[, declared size])) members.

    Written by hand so that names (``../../etc/x``) and sizes (a declared size that lies) are exactly
    what the test says, which zipfile would not allow.
    """
    out = io.BytesIO()
    central = []
    for name, content in members:
        raw_name = name.encode()
        if isinstance(content, tuple):
            data, crc, size = content[:3]
            declared = content[3] if len(content) > 3 else size
        else:
            data = zlib.compress(content, 9)[2:-4]
            crc, declared = zlib.crc32(content) & 0xFFFFFFFF, len(content)
        offset = out.tell()
        out.write(
            struct.pack(
                "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), declared, len(raw_name), 0
            )
        )
        out.write(raw_name + data)
        central.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                8,
                0,
                0x21,
                crc,
                len(data),
                declared,
                len(raw_name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + raw_name
        )
    start = out.tell()
    for record in central:
        out.write(record)
    size = out.tell() - start
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), size, start, 0))
    return out.getvalue()


# ---------------------------------------------------------------- XLSX, written part by part

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
    'Target="sharedStrings.xml"/></Relationships>'
)
SPREADSHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'


def _column(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def workbook_xml(sheet_name: str = "survey", prolog: bytes = XML_DECLARATION) -> bytes:
    return (
        prolog
        + (
            f'<workbook xmlns="{SPREADSHEET_NS}" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<sheets><sheet name="{escape(sheet_name)}" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ).encode()
    )


def shared_strings_xml(
    strings: list[str], prolog: bytes = XML_DECLARATION, raw: dict[int, bytes] | None = None
) -> bytes:
    """The shared string table; ``raw`` puts bytes unescaped into some <t> elements (entities)."""
    items = []
    for i, text in enumerate(strings):
        body = (raw or {}).get(i, escape(text).encode())
        items.append(b'<si><t xml:space="preserve">' + body + b"</t></si>")
    head = f'<sst xmlns="{SPREADSHEET_NS}" count="{len(strings)}" uniqueCount="{len(strings)}">'.encode()
    return prolog + head + b"".join(items) + b"</sst>"


def sheet_xml(rows: list[list], strings: dict[str, int], prolog: bytes = XML_DECLARATION) -> bytes:
    cells = []
    for r, row in enumerate(rows, start=1):
        row_cells = []
        for c, value in enumerate(row):
            ref = f"{_column(c)}{r}"
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                row_cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            elif value not in (None, ""):
                row_cells.append(f'<c r="{ref}" t="s"><v>{strings[str(value)]}</v></c>')
        cells.append(f'<row r="{r}">{"".join(row_cells)}</row>')
    return (
        prolog
        + f'<worksheet xmlns="{SPREADSHEET_NS}"><sheetData>{"".join(cells)}</sheetData></worksheet>'.encode()
    )


def xlsx(
    rows: list[list],
    *,
    sheet_name: str = "survey",
    replace: dict[str, bytes | tuple] | None = None,
    extra: list | None = None,
) -> bytes:
    """A minimal XLSX (shared strings, one sheet); ``replace`` swaps parts, ``extra`` adds members."""
    strings: dict[str, int] = {}
    for row in rows:
        for value in row:
            if isinstance(value, str) and value and value not in strings:
                strings[value] = len(strings)
    parts: dict[str, bytes | tuple] = {
        "[Content_Types].xml": _CONTENT_TYPES.encode(),
        "_rels/.rels": _RELS.encode(),
        "xl/workbook.xml": workbook_xml(sheet_name),
        "xl/_rels/workbook.xml.rels": _WORKBOOK_RELS.encode(),
        "xl/worksheets/sheet1.xml": sheet_xml(rows, strings),
        "xl/sharedStrings.xml": shared_strings_xml(list(strings)),
    }
    parts.update(replace or {})
    return zip_archive([*parts.items(), *(extra or [])])


# ---------------------------------------------------------------- XML payloads

BILLION_LAUGHS_DTD = (
    b'<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]>"
)
BILLION_LAUGHS_REF = b"&lol9;"  # 10**9 "lol"s: 3 GB if expanded
QUADRATIC_DTD = b'<!DOCTYPE q [<!ENTITY a "' + b"A" * 50_000 + b'">]>'
QUADRATIC_REF = b"&a;" * 50_000  # 2.5 GB if expanded, no nesting for a naive guard to see
XXE_FILE_DTD = b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
XXE_HTTP_DTD = b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/evil.dtd">]>'
XXE_REF = b"&xxe;"
XXE_PARAMETER_DTD = b'<!DOCTYPE x [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>'
EXTERNAL_DTD = b'<!DOCTYPE x SYSTEM "http://127.0.0.1:9/evil.dtd">'


# ---------------------------------------------------------------- the world and the door

# Tables a failed import may write to: the job itself and its row errors.
JOB_TABLES = {"core.importjob", "core.importrowerror"}
# How long an error message may be: it must say what is wrong, not echo the file back.
MAX_ERROR_CHARS = 2000


@dataclass
class World:
    operation: Operation  # Mozambique, with a gazetteer and round 1
    somalia: Operation  # for the shipped Somalia source profiles
    user: object  # data manager of both, granted registration
    tmp_path: Path

    def job_setup(self, kind: str) -> tuple[Operation | None, dict]:
        """(operation, profile) a user would give on the upload form for this kind of file."""
        op, som = self.operation, self.somalia
        if kind.startswith("gazetteer."):
            return None, {"country": "MOZ", "edition": "hostile edition"}
        if kind.startswith("tracking.dtm"):
            return None, {}
        if kind == "tracking.profile":
            return som, {"operation": som.pk, "round": 1, "source_profile": "dtm-somalia-baseline-b2"}
        if kind.startswith("tracking."):
            return op, {"operation": op.pk, "round": 1}
        if kind == "flows.profile":
            return som, {"operation": som.pk, "source_profile": "somalia-fmp-2016"}
        if kind.startswith(("flows.", "registration.")):
            return op, {"operation": op.pk}
        return op, {}


def domain_counts() -> dict[str, int]:
    """Rows in every table of the project but the import jobs' own: a failed import changes none."""
    from django.db import connection

    models = [
        model
        for model in apps.get_models()
        if model.__module__.startswith("mobility.")
        and model._meta.managed
        and not model._meta.proxy
        and model._meta.label_lower not in JOB_TABLES
    ]
    quote = connection.ops.quote_name
    counts = ", ".join(f"(SELECT COUNT(*) FROM {quote(m._meta.db_table)})" for m in models)  # noqa: S608
    with connection.cursor() as cursor:  # one query, not one a table: this runs twice a case
        cursor.execute(f"SELECT {counts}")
        row = cursor.fetchone()
    return {m._meta.label_lower: n for m, n in zip(models, row, strict=True)}


@dataclass
class Outcome:
    job: ImportJob | None
    refused: ValidationError | None  # refused at the door (job_create), before any job existed

    @property
    def failed(self) -> bool:
        return self.refused is not None or self.job.status == ImportJob.Status.FAILED

    @property
    def message(self) -> str:
        if self.refused is not None:
            return "; ".join(self.refused.messages)
        return self.job.error


def send(world: World, kind: str, name: str, data: bytes) -> Outcome:
    """Keep the file and run its job, as the upload page and the CLI do."""
    from mobility.core.imports import job_create, run

    path = world.tmp_path / name
    path.write_bytes(data)
    operation, profile = world.job_setup(kind)
    try:
        job = job_create(
            kind=kind, source=path, original_name=name, profile=profile, operation=operation, by=world.user
        )
    except ValidationError as exc:
        return Outcome(None, exc)
    finally:
        path.unlink()
    return Outcome(run(job), None)


def assert_clear_refusal(outcome: Outcome, before: dict[str, int], *, says: str | None = None) -> None:
    """Failed with a message of its own (not the internal-error one), short, and nothing stored."""
    assert outcome.failed, "the hostile file was imported"
    message = outcome.message
    assert message and "internal error" not in message, message
    assert len(message) <= MAX_ERROR_CHARS, f"the error is {len(message):,} characters long"
    if says is not None:
        assert says in message, message
    if outcome.job is not None:
        for error in outcome.job.row_errors.all():
            assert len(error.value) <= 200 and error.message
    assert domain_counts() == before, "a failed import stored something"


def assert_handled(outcome: Outcome, before: dict[str, int]) -> None:
    """Imported, or refused clearly with nothing stored: never an internal error."""
    if outcome.failed:
        assert_clear_refusal(outcome, before)


@pytest.fixture(name="hostile_world")
def hostile_world_fixture(db, operation, data_manager, admin_user, tmp_path) -> World:
    from mobility.core.services import operation_create, round_create
    from mobility.flows.models import FlowMonitoringPoint
    from mobility.gazetteer.matching import normalize_name
    from mobility.gazetteer.models import AdminArea, GazetteerVersion
    from mobility.registration import access
    from mobility.restrictions.services import poe_upsert
    from mobility.tracking.profiles.store import builtin_profiles_load

    version = GazetteerVersion.objects.create(
        country_iso3="MOZ", edition="test", valid_from=dt.date(2019, 1, 1), max_level=2
    )
    parent = None
    for level, pcode, name in (
        (0, "MZ", "Moçambique"),
        (1, "MZ01", "Cabo Delgado"),
        (2, "MZ0101", "Ancuabe"),
    ):
        parent = AdminArea.objects.create(
            version=version,
            country_iso3="MOZ",
            pcode=pcode,
            level=level,
            parent=parent,
            name=name,
            names={"pt": name},
            name_normalized=normalize_name(name),
        )
    somalia = operation_create(name="Somalia — Baseline", country_iso3="SOM")
    Membership.objects.create(user=data_manager, operation=somalia, role=Role.DATA_MANAGER)
    for op in (operation, somalia):
        round_create(operation=op, number=1, start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 1, 31))
    access.grant_set(operation=operation, user=data_manager, capabilities=["register", "view"], by=admin_user)
    builtin_profiles_load()  # loaded on first use otherwise: not a write of the import under test
    FlowMonitoringPoint.objects.create(  # flow counts are refused before reading without a point
        operation=operation, code="MZ-FMP-01", name="Ressano Garcia", country_iso3="MOZ"
    )
    poe_upsert(  # status rows name a point of entry of the operation
        operation=operation, code="MOZ-RG", name="Ressano Garcia", type="land_border", country_iso3="MOZ"
    )
    return World(operation=operation, somalia=somalia, user=data_manager, tmp_path=tmp_path)

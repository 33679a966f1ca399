"""Every uploaded file is checked while it arrives: not larger than allowed, and its content is what its
name says (an .xlsx is a workbook, a .csv is text, a .geojson is JSON...), before any of it is kept.

Uploads are kept under MEDIA_ROOT (``var/uploads``), which no URL serves: only STATIC_ROOT is public.
"""

from __future__ import annotations

import codecs
import zipfile
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from .tables import FILE_TOO_LARGE

# Room for the other form fields and multipart boundaries around the file.
FORM_OVERHEAD_BYTES = 1024 * 1024

FILE_CONTENT_MISMATCH = (
    'The file "{name}" is not {expected}: its content does not match its name ({found}). '
    "Save it again in that format from the program that made it, or give it the right name."
)

# What each name promises. Names not listed (photos and other attachments) are not checked here.
EXPECTED = {
    ".xlsx": "an Excel workbook (.xlsx)",
    ".xlsm": "an Excel workbook (.xlsm)",
    ".xls": "an Excel 97-2003 workbook (.xls)",
    ".csv": "a CSV text file",
    ".tsv": "a tab-separated text file",
    ".txt": "a text file",
    ".json": "a JSON file",
    ".geojson": "a GeoJSON (JSON) file",
    ".xml": "an XML file",
}
# Not checked here: OpenRosa submissions (/collect/...). Their XML is parsed with its own clear error,
# their attachments are whatever the form asks for, and a phone told "refused" would retry forever.
UNCHECKED_PATH_PREFIXES = ("/collect/",)
HEAD_BYTES = 8192
# The end of a zip holds its directory: the names of its members. 64 KB covers thousands of members.
TAIL_BYTES = 65536

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = b"PK\x03\x04"
_CONTENT_TYPES = b"[Content_Types].xml"
# Magic numbers of binary files that a wrong name most often hides, named in the error.
_BINARY_KINDS = (
    (_ZIP, "a zip archive"),
    (_OLE2, "an Office 97-2003 document"),
    (b"%PDF", "a PDF document"),
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a program"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _found(head: bytes) -> str:
    for magic, label in _BINARY_KINDS:
        if head.startswith(magic):
            return label
    if b"\x00" in head:
        return "binary data"
    return "other content"


def _text_start(head: bytes) -> bytes:
    """The first characters of a text file, past a UTF-8 byte-order mark and blank space."""
    return head.removeprefix(codecs.BOM_UTF8).lstrip()


def content_problem(name: str, head: bytes, tail: bytes, *, zip_names=None) -> str | None:
    """Why this content cannot be what the name says, or None when it can (or the name is not checked).

    ``head`` is the start of the file, ``tail`` its end; ``zip_names`` the members when already read.
    """
    suffix = Path(name or "").suffix.lower()
    expected = EXPECTED.get(suffix)
    if expected is None or not head:
        return None  # not a kind we check; an empty file is refused where files are kept
    ok: bool
    if suffix in (".xlsx", ".xlsm"):
        has_types = _CONTENT_TYPES in tail if zip_names is None else "[Content_Types].xml" in zip_names
        ok = head.startswith(_ZIP) and has_types
        if head.startswith(_ZIP) and not ok:
            return FILE_CONTENT_MISMATCH.format(
                name=name, expected=expected, found="a zip archive without a workbook's [Content_Types].xml"
            )
    elif suffix == ".xls":
        # An XLSForm saved by a newer Excel under the old name is still a workbook: pyxform reads both.
        ok = head.startswith(_OLE2) or (head.startswith(_ZIP) and _CONTENT_TYPES in tail)
    elif suffix in (".csv", ".tsv", ".txt"):
        ok = head.startswith(_UTF16_BOMS) or (
            b"\x00" not in head and not any(head.startswith(m) for m, _ in _BINARY_KINDS if m != b"MZ")
        )
    elif suffix in (".json", ".geojson"):
        ok = _text_start(head)[:1] in (b"{", b"[")
    else:  # .xml
        ok = _text_start(head)[:1] == b"<"
    if ok:
        return None
    return FILE_CONTENT_MISMATCH.format(name=name, expected=expected, found=_found(head))


def check_content(source, name: str | None = None) -> None:
    """Raise ValidationError when a kept file (a path or an uploaded file) is not what its name says."""
    if isinstance(source, str | Path):
        path = Path(source)
        name = name or path.name
        with path.open("rb") as fh:
            problem = _problem_of_file(fh, name)
    else:
        name = name or Path(source.name or "").name
        position = source.tell() if hasattr(source, "tell") else 0
        source.seek(0)
        try:
            problem = _problem_of_file(source, name)
        finally:
            source.seek(position)
    if problem:
        raise ValidationError(problem, code="content_mismatch")


def _problem_of_file(fh, name: str) -> str | None:
    head = fh.read(HEAD_BYTES)
    zip_names = None
    if head.startswith(_ZIP) and Path(name).suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        fh.seek(0)
        try:
            zip_names = set(zipfile.ZipFile(fh).namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            zip_names = set()
    if zip_names is not None and Path(name).suffix.lower() == ".xls":
        tail = _CONTENT_TYPES if "[Content_Types].xml" in zip_names else b""
        return content_problem(name, head, tail)
    return content_problem(name, head, b"", zip_names=zip_names)


class SizeLimitUploadHandler(FileUploadHandler):
    """First upload handler: stops a request whose body is larger than MAX_UPLOAD_BYTES allows."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.too_large = content_length > settings.MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES
        self.content_length = content_length

    def new_file(self, *args, **kwargs):
        if self.too_large:
            limit = settings.MAX_UPLOAD_BYTES
            self.request.upload_refused = FILE_TOO_LARGE.format(
                size_mb=self.content_length / 2**20, limit_mb=limit / 2**20
            )
            # The rest of the body is read and thrown away, never stored.
            raise StopUpload(connection_reset=False)

    def receive_data_chunk(self, raw_data, start):
        return raw_data

    def file_complete(self, file_size):
        return None


class ContentCheckUploadHandler(FileUploadHandler):
    """Second upload handler: keeps each file's first and last bytes and refuses one whose content
    does not match its name (a renamed program sent as data.csv, a zip sent as a workbook).

    The refusal is ``request.upload_refused`` (the upload pages show it on their form) and the
    rest of the request is thrown away, so the file is never kept.
    """

    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, file_name, *args, **kwargs)
        self.head = b""
        self.tail = b""
        self.checked = not self.request.path_info.startswith(UNCHECKED_PATH_PREFIXES)

    def receive_data_chunk(self, raw_data, start):
        if not self.checked:
            return raw_data
        if len(self.head) < HEAD_BYTES:
            self.head += raw_data[: HEAD_BYTES - len(self.head)]
        self.tail = (self.tail + raw_data)[-TAIL_BYTES:]
        return raw_data

    def file_complete(self, file_size):
        problem = self.checked and content_problem(self.file_name, self.head, self.tail)
        if problem:
            self.request.upload_refused = problem
            raise StopUpload(connection_reset=False)
        return None

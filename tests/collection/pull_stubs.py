"""Local stand-ins for a KoboToolbox server and an ODK Central server, serving recorded responses.

Each stub is an ``http.server`` in a thread on 127.0.0.1:0. They serve the recorded shapes in
``data/`` (written from the Kobo v2 and Central API documentation), check credentials like the real
servers (401 for a wrong token or password), page like them (Kobo: count/next/previous/results with
start/limit; Central: $top with @odata.nextLink), and keep a log of the requests they answered so
tests can check what the client asked for. ``fail`` makes a path answer an error status.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

DATA = Path(__file__).parent / "data"
KOBO_TOKEN = "5f0a6c1e9b3d47e2a8c4f6b0d2e9a7c1b3f5d8e0"
KOBO_UID = "aRdq3fXqS8e5H2KnPmW7Zt"
KOBO_USER = "imo_moz"
CENTRAL_EMAIL = "imo.pemba@example.org"
CENTRAL_PASSWORD = "correct horse battery staple 42"
CENTRAL_PROJECT = 7
CENTRAL_FORM = "household_visit"
PHOTO = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + b"shelter photo" * 20
    + b"\xff\xd9"
)


def data_text(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


class _Handler(BaseHTTPRequestHandler):
    stub: Stub

    def log_message(self, *args):  # keep the test output clean
        pass

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = unquote(parts.path)
        self.stub.requests.append(
            {"method": method, "path": path, "query": query, "headers": dict(self.headers)}
        )
        for fragment, status in list(self.stub.failures.items()):
            if fragment in path:
                return self._send(status, b"<html><body>Server Error</body></html>", "text/html")
        status, content, content_type = self.stub.answer(method, path, query, self.headers, body)
        self._send(status, content, content_type)

    def _send(self, status: int, content: bytes | str, content_type: str) -> None:
        if isinstance(content, str):
            content = content.encode("utf-8")
        self.stub.sent.append(content)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")


class Stub:
    """A server in a thread; subclasses answer (method, path, query, headers, body)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.sent: list[bytes] = []  # every body served, to check what the client kept is what it got
        self.failures: dict[str, int] = {}
        handler = type("Handler", (_Handler,), {"stub": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def fail(self, path_fragment: str, status: int = 500) -> None:
        self.failures[path_fragment] = status

    def heal(self) -> None:
        self.failures.clear()

    def paths(self, method: str = "GET") -> list[str]:
        return [r["path"] for r in self.requests if r["method"] == method]

    def answer(self, method, path, query, headers, body):
        raise NotImplementedError

    @staticmethod
    def json(status: int, value) -> tuple[int, bytes, str]:
        return status, json.dumps(value, ensure_ascii=False).encode("utf-8"), "application/json"


# ---------------------------------------------------------------- KoboToolbox


COMPARE = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}


def _matches(record: dict, query: dict) -> bool:
    """The slice of MongoDB query syntax Kobo's data endpoint passes through ($gt, $exists, $or...)."""
    for key, condition in query.items():
        if key == "$and":
            if not all(_matches(record, q) for q in condition):
                return False
            continue
        if key == "$or":
            if not any(_matches(record, q) for q in condition):
                return False
            continue
        value = record.get(key)
        if not isinstance(condition, dict):
            if value != condition:
                return False
            continue
        for op, operand in condition.items():
            if op == "$exists":
                if (key in record) != bool(operand):
                    return False
            elif op == "$in":
                if value not in operand:
                    return False
            elif value is None or not COMPARE[op](value, operand):
                return False
    return True


class KoboStub(Stub):
    """KoboToolbox (KPI) v2: the asset, its data with query/fields/sort/start/limit, attachments, form.xml."""

    def __init__(self, token: str = KOBO_TOKEN):
        super().__init__()
        self.token = token
        self.records: list[dict] = json.loads(data_text("kobo_data.json"))["results"]
        self.xform = data_text("kobo_form.xml")
        self.files = {"attK3pW9xZr2Lm4Qv7Ny8Bc": PHOTO}
        self.asset_changes: dict = {}  # e.g. a new deployed_version_id after a redeployment

    def _text(self, text: str) -> str:
        return text.replace("https://kf.kobotoolbox.example", self.url).replace(
            "https://kc.kobotoolbox.example", self.url
        )

    def add(self, record: dict) -> None:
        self.records.append(record)

    def replace(self, record: dict) -> None:
        """An edit in Kobo: the record keeps its _id and gets the new body."""
        self.records = [record if r["_id"] == record["_id"] else r for r in self.records]

    def answer(self, method, path, query, headers, body):
        if headers.get("Authorization") != f"Token {self.token}":
            detail = (
                "Invalid token."
                if headers.get("Authorization")
                else "Authentication credentials were not provided."
            )
            return self.json(401, {"detail": detail})
        asset = f"/api/v2/assets/{KOBO_UID}/"
        if path == asset:
            described = {**json.loads(self._text(data_text("kobo_asset.json"))), **self.asset_changes}
            return self.json(200, described)
        if path == f"/{KOBO_USER}/forms/{KOBO_UID}/form.xml":
            return 200, self.xform.encode(), "text/xml; charset=utf-8"
        if path == f"{asset}data/":
            return self._data(path, query)
        match = re.fullmatch(rf"{asset}data/(\d+)/attachments/(\w+)/", path)
        if match and match.group(2) in self.files:
            return 200, self.files[match.group(2)], "image/jpeg"
        match = re.fullmatch(rf"{asset}data/(\d+)/", path)
        if match:
            record = next((r for r in self.records if r["_id"] == int(match.group(1))), None)
            if record is not None:
                return 200, self._text(json.dumps(record, ensure_ascii=False)).encode(), "application/json"
        return self.json(404, {"detail": "Not found."})

    def _data(self, path, query):
        try:
            where = json.loads(query.get("query") or "{}")
            fields = json.loads(query.get("fields") or "[]")
            sort = json.loads(query.get("sort") or "{}")
        except ValueError:
            return self.json(400, {"detail": "Invalid `query` param"})
        start, limit = int(query.get("start") or 0), min(int(query.get("limit") or 100), 30000)
        rows = [r for r in self.records if _matches(r, where)]
        for key, direction in sort.items():
            rows.sort(key=lambda r: r.get(key), reverse=direction == -1)
        if fields:
            rows = [{k: r[k] for k in fields if k in r} for r in rows]

        def link(at):
            return f"{self.url}{path}?{urlencode({**query, 'start': at, 'limit': limit})}"

        page = {
            "count": len(rows),
            "next": link(start + limit) if start + limit < len(rows) else None,
            "previous": link(max(start - limit, 0)) if start else None,
            "results": rows[start : start + limit],
        }
        return 200, self._text(json.dumps(page, ensure_ascii=False)).encode(), "application/json"


# ---------------------------------------------------------------- ODK Central


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class CentralStub(Stub):
    """ODK Central: /v1/sessions, form XML, OData Submissions ($filter, $top, nextLink), XML, attachments."""

    def __init__(self, email: str = CENTRAL_EMAIL, password: str = CENTRAL_PASSWORD):
        super().__init__()
        self.email, self.password = email, password
        self.token = json.loads(data_text("central_session.json"))["token"]
        self.rows: list[dict] = json.loads(data_text("central_odata_submissions.json"))["value"]
        self.xml = {
            row["__id"]: (DATA / f"central_instance_{row['__id'][5:13]}.xml").read_bytes()
            for row in self.rows
        }
        self.files = {row["__id"]: {} for row in self.rows}
        self.files["uuid:a8d4e0b2-9c61-4f37-b5e2-7a1c3d9e0f72"]["1763625884551.jpg"] = PHOTO
        self.form_xml = data_text("central_form.xml")

    def edit(self, logical_id: str, xml: bytes, updated_at: str) -> None:
        """An edit in Central: the record keeps its __id, updatedAt moves, the current XML changes."""
        row = next(r for r in self.rows if r["__id"] == logical_id)
        row["__system"]["updatedAt"] = updated_at
        row["__system"]["edits"] += 1
        row["meta"]["instanceID"] = re.search(rb"<instanceID>([^<]+)</instanceID>", xml).group(1).decode()
        self.xml[logical_id] = xml

    def add(self, row: dict, xml: bytes) -> None:
        self.rows.insert(0, row)  # Central lists the newest submission first
        self.xml[row["__id"]] = xml
        self.files[row["__id"]] = {}

    def answer(self, method, path, query, headers, body):
        if method == "POST" and path == "/v1/sessions":
            sent = json.loads(body or b"{}")
            if sent.get("email") == self.email and sent.get("password") == self.password:
                return 200, data_text("central_session.json").encode(), "application/json"
            return self.json(
                401, {"code": 401.2, "message": "Could not authenticate with the provided credentials."}
            )
        if headers.get("Authorization") != f"Bearer {self.token}":
            return self.json(
                401, {"code": 401.2, "message": "Could not authenticate with the provided credentials."}
            )
        form = f"/v1/projects/{CENTRAL_PROJECT}/forms/{CENTRAL_FORM}"
        if path == f"{form}.xml":
            return 200, self.form_xml.encode(), "text/xml"
        if path == f"{form}.svc/Submissions":
            return self._odata(path, query)
        match = re.fullmatch(rf"{form}/submissions/([^/]+)\.xml", path)
        if match and match.group(1) in self.xml:
            return 200, self.xml[match.group(1)], "application/xml"
        match = re.fullmatch(rf"{form}/submissions/([^/]+)/attachments", path)
        if match and match.group(1) in self.files:
            return self.json(200, [{"name": name, "exists": True} for name in self.files[match.group(1)]])
        match = re.fullmatch(rf"{form}/submissions/([^/]+)/attachments/([^/]+)", path)
        if match and match.group(2) in self.files.get(match.group(1), {}):
            return 200, self.files[match.group(1)][match.group(2)], "image/jpeg"
        return self.json(404, {"code": 404.1, "message": "Could not find the resource you were looking for."})

    def _keep(self, row: dict, expression: str) -> bool:
        """`__system/<field> <op> <instant>` clauses joined by `or` (what the pull sends)."""
        ops = {"gt": lambda a, b: a > b, "ge": lambda a, b: a >= b, "lt": lambda a, b: a < b}
        for clause in expression.split(" or "):
            field, op, value = clause.strip().split(" ")
            stated = row["__system"].get(field.removeprefix("__system/"))
            if stated and ops[op](_instant(stated), _instant(value)):
                return True
        return False

    def _odata(self, path, query):
        rows = [r for r in self.rows if not query.get("$filter") or self._keep(r, query["$filter"])]
        rows.sort(key=lambda r: _instant(r["__system"]["submissionDate"]), reverse=True)
        skip = 0
        if query.get("$skiptoken"):
            skip = json.loads(base64.b64decode(query["$skiptoken"].removeprefix("01")))["skip"]
        top = int(query.get("$top") or len(rows) or 1)
        page = {
            "@odata.context": f"{self.url}{path.removesuffix('/Submissions')}/$metadata#Submissions",
            "value": copy.deepcopy(rows[skip : skip + top]),
        }
        if query.get("$count") == "true":
            page["@odata.count"] = len(rows)
        if skip + top < len(rows):
            token = "01" + base64.b64encode(json.dumps({"skip": skip + top}).encode()).decode()
            rest = {k: v for k, v in query.items() if k != "$skiptoken"}
            page["@odata.nextLink"] = f"{self.url}{path}?{urlencode({**rest, '$skiptoken': token})}"
        return self.json(200, page)

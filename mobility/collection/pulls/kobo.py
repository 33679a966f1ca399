"""Pulls from KoboToolbox (KPI v2 REST API, API token): new records by ``_id``, then edits of records
already pulled (see the package's docstring)."""

from __future__ import annotations

import json
import re

import requests

from mobility.collection import pulls

from ..models import Form, Submission
from ..services import Upload
from .common import (
    HTTP_TIMEOUT,
    PULL_BAD_SHAPE,
    PULL_NO_XFORM,
    PULL_NOT_JSON,
    PULL_UNREACHABLE,
    Run,
    host_of,
    parse_when,
)


class KoboApi:
    """requests with the API token; every failure becomes a PullError naming source and status."""

    def __init__(self, run: Run):
        self.run = run
        base = run.source.url.rstrip("/")
        self.base = base[: -len("/api/v2")] if base.endswith("/api/v2") else base
        self.asset_url = f"{self.base}/api/v2/assets/{run.source.remote_form}/"
        self.http = requests.Session()
        # No JSON-only Accept header: form.xml and attachments are not JSON (DRF would answer 406).
        self.http.headers["Authorization"] = f"Token {run.source.credential}"

    def get(self, url: str, *, what: str, params: dict | None = None, ok404: bool = False):
        try:
            response = self.http.get(url, params=params, timeout=HTTP_TIMEOUT)
        except requests.RequestException as exc:
            raise self.run.error(PULL_UNREACHABLE, host=host_of(url), error=type(exc).__name__) from None
        if ok404 and response.status_code == 404:
            return None
        if response.status_code >= 300:
            hint = "the API token and that its account can view the project's submissions"
            raise self.run.http_error(what, response.status_code, hint=hint, host=host_of(url))
        return response

    def json(self, url: str, *, what: str, params: dict | None = None):
        return self.run.json_of(self.get(url, what=what, params=params), what=what, host=host_of(url))

    def asset(self):
        return self.json(self.asset_url, what="the asset", params={"format": "json"})

    def close(self) -> None:
        self.http.close()


_WS = re.compile(r"[ \t\n\r]*")


def _records_with_bytes(text: str) -> tuple[dict, list[tuple[dict, bytes]]]:
    """A Kobo data page and each record of ``results`` with its JSON text exactly as received."""
    decoder = json.JSONDecoder()
    page: dict = {}
    records: list[tuple[dict, bytes]] = []
    i = _WS.match(text, 0).end()
    if text[i : i + 1] != "{":
        raise ValueError("not an object")
    i = _WS.match(text, i + 1).end()
    while text[i : i + 1] != "}":
        key, i = decoder.raw_decode(text, i)
        i = _WS.match(text, i).end()
        if text[i : i + 1] != ":":
            raise ValueError("expected ':'")
        i = _WS.match(text, i + 1).end()
        if key == "results" and text[i : i + 1] == "[":
            i = _WS.match(text, i + 1).end()
            while text[i : i + 1] != "]":
                start = i
                record, i = decoder.raw_decode(text, i)
                records.append((record, text[start:i].encode()))
                i = _WS.match(text, i).end()
                if text[i : i + 1] == ",":
                    i = _WS.match(text, i + 1).end()
            i += 1
            page[key] = [record for record, _ in records]
        else:
            page[key], i = decoder.raw_decode(text, i)
        i = _WS.match(text, i).end()
        if text[i : i + 1] == ",":
            i = _WS.match(text, i + 1).end()
    return page, records


def _kobo_cursor(cursor: str) -> tuple[int | None, str]:
    """(last _id, last _submission_time) from "time#id"; a bare time (set by hand) has no id."""
    if "#" not in cursor:
        return None, cursor
    time, _, last_id = cursor.rpartition("#")
    return (int(last_id) if last_id.isdigit() else None), time


def _kobo_xform(run: Run, api: KoboApi, asset: dict) -> str:
    """The deployed XForm: KoboCAT's form.xml under the deployment, else the asset's XML download."""
    urls = []
    if asset.get("deployment__identifier"):
        urls.append(asset["deployment__identifier"].rstrip("/") + "/form.xml")
    urls += [d.get("url") for d in asset.get("downloads") or [] if d.get("format") == "xml" and d.get("url")]
    for url in urls:
        response = api.get(url, what="the form's XForm", ok404=True)
        if response is not None and response.content.lstrip()[:1] == b"<":
            return response.content.decode("utf-8")
    raise run.error(PULL_NO_XFORM, form=run.source.remote_form)


def _kobo_form(run: Run, api: KoboApi) -> Form:
    asset = api.asset()
    if not isinstance(asset, dict):
        raise run.error(PULL_BAD_SHAPE, what="the asset", detail="no object")
    form = run.store_form_xml(_kobo_xform(run, api, asset), run.source.remote_form)
    run.version_refreshed = True
    return form


def _kobo_version(run: Run, api: KoboApi, remote: str) -> str:
    """The local version of a record's ``__version__`` (Kobo's XForm carries it as a calculate).

    A version deployed since the last pull is fetched once and added to the local form.
    """
    if not remote:
        return ""
    if remote not in run.versions:

        def local_version() -> str | None:
            versions = run.form.versions.filter(xml__contains=f"'{remote}'")
            return versions.values_list("version", flat=True).first()

        local = local_version()
        if local is None and not run.version_refreshed:
            run.version_refreshed = True
            asset = api.asset()
            if isinstance(asset, dict) and asset.get("deployed_version_id") == remote:
                run.store_form_xml(_kobo_xform(run, api, asset), run.source.remote_form)
                local = local_version()
        run.versions[remote] = local if local is not None else remote
    return run.versions[remote]


def _attachment_name(attachment: dict) -> str:
    return attachment.get("media_file_basename") or str(attachment.get("filename") or "").rsplit("/", 1)[-1]


def _kobo_store(run: Run, api: KoboApi, record: dict, raw: bytes) -> None:
    instance_id = str(record.get("meta/instanceID") or "")
    if not instance_id and record.get("_uuid"):
        instance_id = f"uuid:{record['_uuid']}"
    root = str(record.get("meta/rootUuid") or "")
    files = [a for a in record.get("_attachments") or [] if isinstance(a, dict) and not a.get("is_deleted")]
    names = {_attachment_name(a) for a in files}
    uploads = []
    if files and not run.has_files(instance_id, names):
        for attachment in files:
            name = _attachment_name(attachment)
            url = attachment.get("download_url")
            if not name or not url:
                continue
            response = api.get(url, what="an attachment")
            uploads.append(Upload(name, response.content, attachment.get("mimetype") or ""))
    meta = {
        "xml_form_id": run.form.xml_form_id,
        "version": _kobo_version(run, api, str(record.get("__version__") or "")),
        "instance_id": instance_id,
        "deprecated_id": run.chain_link(instance_id, str(record.get("meta/deprecatedID") or ""), root),
        "root_id": root or instance_id,
    }
    run.store(
        raw=raw,
        raw_format="json",
        data={k: v for k, v in record.items() if not k.startswith("_")},
        meta=meta,
        origin=Submission.Origin.KOBO,
        submitted_at=parse_when(record.get("_submission_time")),
        enumerator=str(record.get("_submitted_by") or ""),
        uploads=uploads,
    )


def _kobo_pages(run: Run, api: KoboApi, params: dict, what: str):
    """Each page of the data endpoint, following ``next``: (page, [(record, raw bytes)])."""
    url = f"{api.asset_url}data/"
    while url:
        response = api.get(url, what=what, params=params)
        try:
            page, records = _records_with_bytes(response.content.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise run.error(PULL_NOT_JSON, what=what) from None
        if "results" not in page or not all(isinstance(r, dict) for r, _ in records):
            raise run.error(PULL_BAD_SHAPE, what=what, detail="no results list")
        yield page, records
        url, params = page.get("next"), None


def pull_kobo(run: Run) -> None:
    api = KoboApi(run)
    try:
        if run.source.form is None:
            run.link_form(_kobo_form(run, api))
        last_id, since = _kobo_cursor(run.source.cursor)
        if last_id is not None:
            query = {"_id": {"$gt": last_id}}
        else:
            query = {"_submission_time": {"$gt": since}} if since else {}
        params = {
            "format": "json",
            "query": json.dumps(query),
            "sort": json.dumps({"_id": 1}),
            "start": 0,
            "limit": pulls.KOBO_PAGE_SIZE,
        }
        started = False
        for page, records in _kobo_pages(run, api, params, "the submissions"):
            if not started:
                run.progress.start(page.get("count") or len(records), f"{run.name}: new submissions")
                started = True
            for record, raw in sorted(records, key=lambda pair: _int(pair[0].get("_id"))):
                run.counts["fetched"] += 1
                _kobo_store(run, api, record, raw)
                run.advance(f"{record.get('_submission_time') or ''}#{record.get('_id')}")
                run.progress.advance(1)
        if last_id is not None:
            _kobo_edits(run, api, last_id)
    finally:
        api.close()


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _kobo_edits(run: Run, api: KoboApi, up_to_id: int) -> None:
    """Records pulled before and edited since: their current instanceID is not stored here."""
    params = {
        "format": "json",
        "query": json.dumps({"meta/deprecatedID": {"$exists": True}, "_id": {"$lte": up_to_id}}),
        "fields": json.dumps(["_id", "meta/instanceID"]),
        "sort": json.dumps({"_id": 1}),
        "start": 0,
        "limit": 30000,
    }
    current = {}
    for _page, records in _kobo_pages(run, api, params, "the list of edited submissions"):
        current.update({str(r.get("meta/instanceID") or ""): r.get("_id") for r, _ in records})
    current.pop("", None)
    known = run.known(list(current))
    missing = [record_id for instance_id, record_id in current.items() if instance_id not in known]
    if not missing:
        return
    run.progress.start(len(missing), f"{run.name}: edited submissions")
    for record_id in sorted(missing, key=_int):
        response = api.get(
            f"{api.asset_url}data/{record_id}/", what="an edited submission", params={"format": "json"}
        )
        try:
            record = json.loads(response.content)
        except ValueError:
            raise run.error(PULL_NOT_JSON, what="an edited submission") from None
        run.counts["fetched"] += 1
        _kobo_store(run, api, record, response.content)
        run.progress.advance(1)

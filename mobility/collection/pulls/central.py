"""Pulls from ODK Central (pyodk): rows changed since the cursor by OData ``$filter``, each submission's
XML and attachments (see the package's docstring)."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import Future, ThreadPoolExecutor

import requests

from mobility.collection import pulls

from ..models import Submission
from ..services import Upload
from ..xforms import InstanceError, instance_parse, repeat_paths
from .common import (
    HTTP_TIMEOUT,
    PULL_BAD_SHAPE,
    PULL_HTTP,
    PULL_SUBMISSION_REFUSED,
    PULL_UNREACHABLE,
    PullError,
    Run,
    parse_when,
)

CENTRAL_FETCHERS = 6  # submission XMLs fetched ahead, in parallel (one request per submission)


class CentralApi:
    """A pyodk client built from the source (no config file, no token cache on disk)."""

    def __init__(self, run: Run):
        from pyodk._utils.config import CentralConfig, Config
        from pyodk._utils.session import Adapter, Session
        from pyodk.client import Client

        self.run = run
        credential = run.source.credential
        email, sep, password = credential.partition(":")
        token = "" if sep else credential  # no "email:password": a session / API token
        session = Session(
            base_url=run.source.url,
            api_version="v1",
            username=email if sep else "token",
            password=password if sep else "token",
            cache_path=None,
        )
        # pyodk mounts timeouts and retries for https only; plain http (a LAN server) gets a timeout too.
        session.mount("http://", Adapter(timeout=HTTP_TIMEOUT, max_retries=0))
        if token:
            session.headers["Authorization"] = f"Bearer {token}"
        self.project = int(run.source.remote_project)
        self.xml_form_id = run.source.remote_form
        self.client = Client(
            config=Config(
                central=CentralConfig(
                    base_url=run.source.url, username=session.auth.username, password=session.auth.password
                )
            ),
            session=session,
            project_id=self.project,
        )
        self.session = session

    def _fail(self, what: str, status: int) -> PullError:
        hint = "the email:password (or token) and that the user can read the form's submissions"
        return self.run.http_error(what, status, hint=hint)

    def call(self, what: str, function, *args, **kwargs):
        """Run a pyodk call, turning its errors into a PullError with the HTTP status."""
        from pyodk.errors import PyODKError

        try:
            return function(*args, **kwargs)
        except PyODKError as exc:
            response = exc.args[1] if len(exc.args) > 1 else None
            if isinstance(response, requests.Response):
                raise self._fail(what, response.status_code) from None
            raise self.run.error(PULL_HTTP, status="?", what=what) from None
        except requests.RequestException as exc:
            raise self.run.error(PULL_UNREACHABLE, error=type(exc).__name__) from None

    def get(self, path: str, *, what: str, ok404: bool = False, **fields) -> requests.Response | None:
        url = self.session.urlformat(path, **fields) if fields else path
        response = self.call(what, self.session.get, url)
        if ok404 and response.status_code == 404:
            return None
        if response.status_code >= 300:
            raise self._fail(what, response.status_code)
        return response

    def json(self, path: str, *, what: str, **fields):
        return self.run.json_of(self.get(path, what=what, **fields), what=what)

    def form_get(self, path: str, *, what: str, ok404: bool = False, **fields) -> requests.Response | None:
        """GET a path under the source's form: ".xml", "/versions/{version}.xml", …"""
        return self.get(
            FORM_PATH + path, what=what, ok404=ok404, project=self.project, form=self.xml_form_id, **fields
        )

    def form_json(self, path: str, *, what: str, **fields):
        return self.run.json_of(self.form_get(path, what=what, **fields), what=what)

    def close(self) -> None:
        self.session.close()


FORM_PATH = "projects/{project}/forms/{form}"


def _central_version(run: Run, api: CentralApi, version: str) -> None:
    """A version the local form lacks is fetched from Central once and added."""
    if version in run.versions:
        return
    run.versions[version] = version
    if run.form.versions.filter(version=version).exists():
        return
    response = api.form_get(
        "/versions/{version}.xml", what=f'version "{version}" of the form', ok404=True, version=version
    )
    if response is not None:
        run.store_form_xml(response.content.decode("utf-8"), api.xml_form_id)


def _marker(row: dict) -> str:
    return row["updatedAt"] or row["submissionDate"] or ""


def _central_rows(run: Run, api: CentralApi) -> list[dict]:
    """Every row changed since the cursor (only the system fields are kept), oldest change first."""
    cursor = run.source.cursor
    query = f"__system/submissionDate gt {cursor} or __system/updatedAt gt {cursor}" if cursor else None
    page = api.call(
        "the submissions (OData)",
        api.client.submissions.get_table,
        form_id=api.xml_form_id,
        project_id=api.project,
        top=pulls.CENTRAL_PAGE_SIZE,
        filter=query,
    )
    rows = []
    while True:
        if not isinstance(page, dict) or not isinstance(page.get("value"), list):
            raise run.error(PULL_BAD_SHAPE, what="the submissions", detail="no value list")
        for row in page["value"]:
            system = row.get("__system") or {}
            if not row.get("__id") or not system.get("submissionDate"):
                raise run.error(PULL_BAD_SHAPE, what="the submissions", detail="a row without __id")
            rows.append(
                {
                    "id": row["__id"],
                    "instance_id": (row.get("meta") or {}).get("instanceID") or "",
                    "submissionDate": system["submissionDate"],
                    "updatedAt": system.get("updatedAt") or "",
                    "submitterName": system.get("submitterName") or "",
                    "attachmentsPresent": system.get("attachmentsPresent") or 0,
                }
            )
        link = page.get("@odata.nextLink")
        if not link:
            break
        page = api.json(link, what="the submissions (next page)")
    rows.sort(key=lambda r: parse_when(_marker(r)) or dt.datetime.min.replace(tzinfo=dt.UTC))
    return rows


def _central_xml(api: CentralApi, row: dict) -> bytes:
    return api.form_get("/submissions/{instance}.xml", what="a submission's XML", instance=row["id"]).content


def _central_store(run: Run, api: CentralApi, row: dict, fetched) -> None:
    local = run.stored(row["instance_id"]) if row["instance_id"] else None
    if local is not None:
        if local.attachments.count() >= row["attachmentsPresent"]:
            run.counts["duplicate"] += 1  # this version is stored: Central never changes a version's XML
            return
    raw = fetched.result() if fetched is not None else _central_xml(api, row)
    try:
        instance = instance_parse(raw)
        _central_version(run, api, instance.version)
        version = run.form.versions.filter(version=instance.version).first()
        repeats = repeat_paths(version.fields) if version is not None else set()
        if repeats:
            instance = instance_parse(raw, repeats)
    except InstanceError as exc:
        raise run.error(PULL_SUBMISSION_REFUSED, instance_id=row["id"], reason=exc) from None
    uploads = []
    if row["attachmentsPresent"]:
        listed = api.form_json(
            "/submissions/{instance}/attachments", what="the attachment list", instance=row["id"]
        )
        names = {a.get("name") for a in listed if isinstance(a, dict) and a.get("exists") and a.get("name")}
        if names and not run.has_files(instance.instance_id, names):
            for name in sorted(names):
                response = api.form_get(
                    "/submissions/{instance}/attachments/{name}",
                    what="an attachment",
                    instance=row["id"],
                    name=name,
                )
                content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
                uploads.append(Upload(name, response.content, content_type))
    meta = {
        "xml_form_id": run.form.xml_form_id,
        "version": instance.version,
        "instance_id": instance.instance_id,
        "deprecated_id": run.chain_link(instance.instance_id, instance.deprecated_id, row["id"]),
        "root_id": row["id"],  # Central's __id is the first instanceID of the record
    }
    run.store(
        raw=raw,
        raw_format="xml",
        data=instance.data,
        meta=meta,
        origin=Submission.Origin.CENTRAL,
        submitted_at=parse_when(row["updatedAt"] if instance.deprecated_id else row["submissionDate"]),
        enumerator=row["submitterName"],
        uploads=uploads,
    )


def pull_central(run: Run) -> None:
    api = CentralApi(run)
    try:
        if not api.session.headers.get("Authorization"):
            api.call("a session (sign-in)", api.session.auth.login)
        if run.source.form is None:
            xml = api.form_get(".xml", what="the form's XForm")
            run.link_form(run.store_form_xml(xml.content.decode("utf-8"), api.xml_form_id))
        rows = _central_rows(run, api)
        known = run.known([row["instance_id"] for row in rows if row["instance_id"]])
        run.progress.start(len(rows), f"{run.name}: new and edited submissions")
        # One request per submission XML: keep a few in flight (HTTP only; storing stays in order).
        pool = ThreadPoolExecutor(max_workers=CENTRAL_FETCHERS)
        ahead: dict[int, Future] = {}
        try:
            for i, row in enumerate(rows):
                for j in range(i, min(i + 2 * CENTRAL_FETCHERS, len(rows))):
                    if j not in ahead and rows[j]["instance_id"] not in known:
                        ahead[j] = pool.submit(_central_xml, api, rows[j])
                run.counts["fetched"] += 1
                _central_store(run, api, row, ahead.pop(i, None))
                # Rows sharing a timestamp: move past it only once the last of them is stored.
                if i + 1 == len(rows) or parse_when(_marker(rows[i + 1])) != parse_when(_marker(row)):
                    run.advance(_marker(row))
                run.progress.advance(1)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        api.close()

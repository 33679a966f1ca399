"""A server killed mid-submission: the phone's retry succeeds and nothing is ever half-stored.

The server is a real gunicorn process on the test database (SQLite: a WAL file copied from the
in-memory test database and copied back afterwards; PostgreSQL: the test database itself), killed
with SIGKILL (no clean-up code runs), restarted, and sent the same submission again.
"""

from __future__ import annotations

import glob
import hashlib
import http.client
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from urllib3 import encode_multipart_formdata

from mobility.collection.models import Attachment, Submission
from mobility.collection.services import form_publish

from .forms import instance_xml, simple_xlsform

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "a-long-test-password"
RECORDER = "mobility.collection.auth.DigestHA1Recorder"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GunicornServer:
    """Mobility under gunicorn (gthread) in its own process group, serving the current test database."""

    def __init__(self, var_dir: Path, *, workers: int = 1, threads: int = 8):
        from django.db import connection

        self.var_dir, self.workers, self.threads = var_dir, workers, threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.sqlite = connection.vendor == "sqlite"
        if self.sqlite:
            # The test database lives in memory; the server gets a real file with WAL, as on a laptop.
            self.db_file = var_dir / "served.sqlite3"
            connection.ensure_connection()
            target = sqlite3.connect(self.db_file)
            connection.connection.backup(target)
            target.close()
            self.database_url = f"sqlite:///{self.db_file}"
        else:
            s = connection.settings_dict
            auth = quote(s["USER"] or "") + (f":{quote(s['PASSWORD'])}" if s.get("PASSWORD") else "")
            self.database_url = (
                f"postgresql://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
            )

    @property
    def uploads(self) -> Path:
        return self.var_dir / "uploads"

    def start(self, ready_path: str) -> None:
        env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "SECRET_KEY"}}
        env.update(
            DJANGO_SETTINGS_MODULE="mobility.settings",
            DATABASE_URL=self.database_url,
            MOBILITY_VAR_DIR=str(self.var_dir),
            MOBILITY_SYNC_JOBS="1",
            MOBILITY_PLAIN_STATIC="1",
            LOG_LEVEL="WARNING",
        )
        log = open(self.var_dir / "server.log", "ab")  # noqa: SIM115 - kept open for the process' life
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "mobility.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--threads",
                str(self.threads),
                "--timeout",
                "120",
                "--graceful-timeout",
                "2",
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own process group: SIGKILL reaches the workers too
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn stopped:\n" + (self.var_dir / "server.log").read_text()[-3000:])
            try:
                if requests.head(self.url + ready_path, timeout=10).status_code == 401:
                    return
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.05)
        raise RuntimeError("gunicorn did not answer in 30 s")

    def kill(self) -> None:
        """SIGKILL the whole process group: no handler, no atexit, no rollback code of ours runs."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def count(self, table: str) -> int:
        """Rows in a table of the served database, read the way the server's next start will."""
        if self.sqlite:
            with sqlite3.connect(self.db_file) as db:
                return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608 - test table names
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
            return cursor.fetchone()[0]

    def sync_back(self) -> None:
        """SQLite: copy the served file back into the in-memory test database, for ORM assertions."""
        if self.sqlite:
            from django.db import connection

            source = sqlite3.connect(self.db_file)
            source.backup(connection.connection)
            source.close()


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - RFC 2617 Digest is MD5


def digest_authorization(url: str, path: str, username: str, password: str = PASSWORD) -> str:
    """Ask for a challenge (HEAD, as Collect does) and sign a POST to ``path`` with it."""
    challenge = requests.head(url + path, timeout=10).headers["WWW-Authenticate"]
    fields = dict(
        part.strip().split("=", 1) for part in challenge.split(", Basic")[0][len("Digest ") :].split(", ")
    )
    nonce, realm = fields["nonce"].strip('"'), fields["realm"].strip('"')
    cnonce, nc = secrets.token_hex(8), "00000001"
    ha1, ha2 = md5(f"{username}:{realm}:{password}"), md5(f"POST:{path}")
    response = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    return (
        f'Digest username="{username}", realm="{realm}", nonce="{nonce}", uri="{path}", algorithm=MD5, '
        f'qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}"'
    )


def raw_post(server: GunicornServer, path: str, authorization: str, body: bytes, content_type: str):
    """Open a connection and send headers for the whole body; the caller sends the body."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-OpenRosa-Version: 1.0\r\n"
        f"Authorization: {authorization}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    sock.sendall(head.encode())
    return sock


@pytest.fixture(autouse=True)
def digest_recorded(settings):
    if not any(v["NAME"] == RECORDER for v in settings.AUTH_PASSWORD_VALIDATORS):
        settings.AUTH_PASSWORD_VALIDATORS = [*settings.AUTH_PASSWORD_VALIDATORS, {"NAME": RECORDER}]


@pytest.mark.heavy
@pytest.mark.django_db(transaction=True)
def test_a_server_killed_mid_submission_stores_nothing_half_and_the_retry_succeeds(
    tmp_path, operation, enumerator
):
    enumerator.set_password(PASSWORD)  # records the Digest HA1
    enumerator.save()
    form_publish(operation=operation, data=simple_xlsform(), filename="household_visit.xlsx")
    path = f"/collect/{operation.slug}/submission"
    raw = instance_xml("uuid:0b7c5c3e-kill-0001", people=5)
    photos = [(f"photo{i:02d}.jpg", os.urandom(1024 * 1024)) for i in range(16)]
    fields = [("xml_submission_file", ("instance.xml", raw, "text/xml"))]
    fields += [(name, (name, content, "image/jpeg")) for name, content in photos]
    body, content_type = encode_multipart_formdata(fields)

    server = GunicornServer(tmp_path)
    try:
        # 1. Killed while the body is arriving: the view never ran.
        server.start(path)
        sock = raw_post(
            server, path, digest_authorization(server.url, path, enumerator.username), body, content_type
        )
        sock.sendall(body[: len(body) // 2])
        server.kill()
        with pytest.raises(OSError):
            sock.sendall(body[len(body) // 2 :])
            if not sock.recv(1):  # an orderly close instead of a reset is a failed upload too
                raise ConnectionResetError
        sock.close()
        assert (server.count("collection_submission"), server.count("collection_attachment")) == (0, 0)

        # 2. Killed while the attachments are being written, inside the receive transaction.
        server.start(path)
        authorization = digest_authorization(server.url, path, enumerator.username)
        outcome: dict = {}

        def send_all():
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            try:
                connection.request(
                    "POST",
                    path,
                    body=body,
                    headers={
                        "Authorization": authorization,
                        "Content-Type": content_type,
                        "X-OpenRosa-Version": "1.0",
                    },
                )
                outcome["status"] = connection.getresponse().status
            except OSError as exc:
                outcome["error"] = exc

        sender = threading.Thread(target=send_all)
        sender.start()
        pattern = str(server.uploads / "collection" / "attachments" / "*" / "*" / "*")
        deadline = time.monotonic() + 30
        while not glob.glob(pattern) and time.monotonic() < deadline and "status" not in outcome:
            time.sleep(0.0005)
        files_written = bool(glob.glob(pattern))
        server.kill()
        sender.join(timeout=30)
        # All or nothing: no submission without all its attachments, no attachment rows without it.
        after_kill = (server.count("collection_submission"), server.count("collection_attachment"))
        assert after_kill in ((0, 0), (1, len(photos))), after_kill
        if after_kill == (0, 0):
            assert files_written and "status" not in outcome  # the kill did land inside the transaction

        # 3. The phone retries once the server is back.
        server.start(path)
        from requests.auth import HTTPDigestAuth

        phone = requests.Session()
        phone.auth = HTTPDigestAuth(enumerator.username, PASSWORD)
        phone.headers["X-OpenRosa-Version"] = "1.0"
        assert phone.head(server.url + path, timeout=10).status_code == 204  # Collect's HEAD first
        files = [("xml_submission_file", ("instance.xml", raw, "text/xml"))]
        files += [(name, (name, content, "image/jpeg")) for name, content in photos]
        retry = phone.post(server.url + path, files=files, timeout=60)
        # 201 when the killed attempt left nothing; 202 if it had committed before the kill landed.
        assert retry.status_code == (201 if after_kill == (0, 0) else 202), retry.text
    finally:
        server.stop()
    server.sync_back()
    stored = Submission.objects.get()
    assert stored.instance_id == "uuid:0b7c5c3e-kill-0001" and bytes(stored.raw) == raw
    assert not stored.incomplete
    expected = {name: hashlib.sha256(content).hexdigest() for name, content in photos}
    assert dict(Attachment.objects.filter(submission=stored).values_list("name", "sha256")) == expected
    for attachment in Attachment.objects.filter(submission=stored):
        on_disk = (server.uploads / attachment.file.name).read_bytes()
        assert hashlib.sha256(on_disk).hexdigest() == attachment.sha256

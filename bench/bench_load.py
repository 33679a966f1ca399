"""Load: the highest rate of OpenRosa submissions Mobility holds with zero loss, end to end.

Run:  .venv/bin/python bench/bench_load.py [--rates 20,40,60,80,100,120] [--seconds 20] [--clients 8]
          [--database-url postgresql://postgres@127.0.0.1:5432/mob_load]  (made when missing)

A real server on a throw-away var dir: gunicorn (2 workers × 8 threads, the recipe of
docs/deployment.md) with the job worker beside it (``mobility run_huey``), on a SQLite file in WAL mode
(the laptop default) or on PostgreSQL. The form is the shipped emergency event tracking form, bound to
``tracking.events`` (MOZ gazetteer), so every submission must end as one event and one group movement.

The load is paced (open loop), in steps of rising rate: for --seconds at each rate, --clients phones
(HTTP Digest, as ODK Collect) send on a fixed schedule — 89 % new instances, 10 % re-sends of an
instance the phone sent before, 1 % racing sends (two phones send the same new instance at the same
moment). Meanwhile a reader reads the API (operations, admin2 metadata, import jobs). A step is *held*
when:

- every send got a 201 or 202 "submit_success" (no error, no timeout), one 201 per unique instance;
- exactly the unique instances are stored, none in conflict, and all of them processed into exactly one
  event and one group movement within 30 s after the step;
- the rate was kept: the sends of the step went out within 5 % of the step's length (the server did not
  fall behind the schedule), with a p95 answer time under 2 s;
- every API read answered 200.

Prints each step and "submissions/s held with zero loss: N"; stops at the first step not held.
Reference: the issue asks for the figure; issue 5 set >= 200 submissions/s on 2 cores for unbound forms
(bench/bench_collection_submissions.py measures that closed-loop throughput).
"""

from __future__ import annotations

import argparse
import atexit
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
TMP = Path(tempfile.mkdtemp(prefix="mobility-load-"))
atexit.register(shutil.rmtree, TMP, ignore_errors=True)
PASSWORD = "bench-load-phone-passphrase"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rates", default="20,40,60,80,100,120", help="submissions/s of each step")
    p.add_argument("--seconds", type=float, default=20.0, help="length of each step")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--database-url", default="", help="PostgreSQL URL (default: a temp SQLite file)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--seed", type=int, default=5)
    return p.parse_args()


ARGS = parse_args()
DATABASE_URL = ARGS.database_url or f"sqlite:///{TMP / 'load.sqlite3'}"
os.environ.update(
    DJANGO_SETTINGS_MODULE="mobility.settings",
    MOBILITY_VAR_DIR=str(TMP),
    DATABASE_URL=DATABASE_URL,
    MOBILITY_PLAIN_STATIC="1",
    LOG_LEVEL="WARNING",
)
os.environ.pop("MOBILITY_SYNC_JOBS", None)


def ensure_postgres_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as db:
        if not db.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


if ARGS.database_url:
    ensure_postgres_database(ARGS.database_url)

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from requests.auth import HTTPDigestAuth  # noqa: E402


def setup():
    from django.contrib.auth import get_user_model

    from mobility.collection.auth import digest_record
    from mobility.collection.builtin_forms import builtin_publish
    from mobility.core.models import Membership, Role
    from mobility.core.services import operation_create
    from mobility.gazetteer.models import GazetteerVersion
    from tests.gazetteer.gazetteer_fixtures import load_gazetteer

    call_command("migrate", verbosity=0)
    if not GazetteerVersion.objects.filter(country_iso3="MOZ", is_current=True).exists():
        load_gazetteer("MOZ", geometry=False)
    operation = operation_create(name=f"Load {time.strftime('%Y%m%d-%H%M%S')}", country_iso3="MOZ")
    published = builtin_publish(operation=operation, key="ett")
    users = []
    for n in range(ARGS.clients):
        user = get_user_model()(username=f"load-{operation.pk}-phone{n}")
        user.set_password(PASSWORD)
        user.save()
        digest_record(user=user, password=PASSWORD)
        Membership.objects.create(user=user, operation=operation, role=Role.ENUMERATOR)
        users.append(user.username)
    connection.close()
    return operation, published.version.form, published.version.version, users


def instance_body(form_id: str, version: str, instance_id: str, n: int) -> bytes:
    return (
        f'<?xml version="1.0"?><data xmlns:orx="http://openrosa.org/xforms" id="{form_id}" version="{version}">'
        "<start>2026-02-03T08:00:00.000+02:00</start><end>2026-02-03T08:20:00.000+02:00</end>"
        f"<deviceid>collect:load-{n % 97}</deviceid><today>2026-02-03</today><gps>-11.5 40.3 0 8</gps>"
        f"<event><event_ref></event_ref><event_uid>{instance_id[5:]}</event_uid>"
        f"<event_code>LOAD-{n:08x}</event_code><event_type>conflict</event_type>"
        f"<event_date>2026-01-{1 + n % 28:02d}</event_date><event_description>Load event {n}</event_description>"
        "<event_admin1>MZ01</event_admin1><event_admin2>MZ0110</event_admin2><event_admin3></event_admin3>"
        "</event><movements><population_group>IDP</population_group>"
        f"<households>{1 + n % 40}</households><individuals>{60 + n % 300}</individuals>"
        "<from_admin1>MZ01</from_admin1><from_admin2>MZ0110</from_admin2><from_admin3></from_admin3>"
        "<to_admin1>MZ01</to_admin1><to_admin2>MZ0101</to_admin2><to_admin3></to_admin3>"
        "<shelter>host_family</shelter><initial_needs>food wash</initial_needs></movements>"
        f"<meta><instanceID>{instance_id}</instanceID></meta></data>"
    ).encode()


def step_plan(step: int, rate: float, rng: random.Random) -> tuple[list[list[tuple[float, str]]], int]:
    """Per client, (send time from the step's start, instance id); and the unique instance count."""
    total = int(rate * ARGS.seconds)
    clients = ARGS.clients
    plans: list[list[tuple[float, str]]] = [[] for _ in range(clients)]
    sent: list[list[str]] = [[] for _ in range(clients)]
    unique = 0
    for n in range(total):
        at = n / rate
        client = n % clients
        roll = rng.random()
        if roll < 0.10 and sent[client]:
            plans[client].append((at, rng.choice(sent[client])))  # a re-send
            continue
        instance = f"uuid:s{step}-{n:06d}-{rng.getrandbits(32):08x}"
        unique += 1
        plans[client].append((at, instance))
        sent[client].append(instance)
        if roll > 0.99:  # a racing send: another phone sends it at the same moment
            other = (client + 1 + rng.randrange(clients - 1)) % clients
            plans[other].append((at, instance))
            sent[other].append(instance)
    for plan in plans:
        plan.sort()
    return plans, unique


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> list[subprocess.Popen]:
    log = open(TMP / "server.log", "ab")  # noqa: SIM115
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    gunicorn = [
        sys.executable,
        "-m",
        "gunicorn",
        "mobility.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(ARGS.workers),
        "--threads",
        str(ARGS.threads),
        "--timeout",
        "120",
        "--backlog",
        "512",
    ]
    worker = [sys.executable, "-m", "mobility.cli", "run_huey", "--quiet"]
    return [
        subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=log, start_new_session=True)
        for cmd in (gunicorn, worker)
    ]


def stop_server(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def run_step(url: str, path: str, users: list[str], form_id: str, version: str, step: int, rate: float):
    rng = random.Random(f"{ARGS.seed}:{step}")
    plans, unique = step_plan(step, rate, rng)
    bodies: dict[str, bytes] = {}
    answers: list[tuple[str, int, bool, float, float]] = []  # instance, status, success, latency, late by
    errors: list[str] = []
    reads: Counter = Counter()
    lock = threading.Lock()
    done = threading.Event()

    def phone(client: int, start: float) -> None:
        session = requests.Session()
        session.auth = HTTPDigestAuth(users[client], PASSWORD)
        session.headers["X-OpenRosa-Version"] = "1.0"
        for at, instance in plans[client]:
            wait = start + at - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            late = max(0.0, -wait)
            body = bodies.setdefault(
                instance, instance_body(form_id, version, instance, int(instance[-8:], 16))
            )
            sent = time.monotonic()
            try:
                r = session.post(
                    url + path,
                    files={"xml_submission_file": ("submission.xml", body, "text/xml")},
                    timeout=60,
                )
            except requests.RequestException as exc:
                with lock:
                    errors.append(f"{instance}: {type(exc).__name__}")
                continue
            with lock:
                answers.append(
                    (
                        instance,
                        r.status_code,
                        b'nature="submit_success"' in r.content,
                        time.monotonic() - sent,
                        late,
                    )
                )

    def reader() -> None:
        session = requests.Session()
        while not done.is_set():
            for api in ("/api/v1/operations", "/api/v1/metadata/admin2?location_code=MOZ&limit=100"):
                try:
                    reads[session.get(url + api, timeout=30).status_code] += 1
                except requests.RequestException:
                    reads["error"] += 1
            done.wait(0.2)

    for client in range(ARGS.clients):  # Collect's HEAD before the first send of a session
        requests.head(url + path, auth=HTTPDigestAuth(users[client], PASSWORD), timeout=30)
    start = time.monotonic() + 0.5
    threads = [threading.Thread(target=phone, args=(c, start)) for c in range(ARGS.clients)]
    threads.append(threading.Thread(target=reader))
    for t in threads:
        t.start()
    for t in threads[:-1]:
        t.join()
    elapsed = time.monotonic() - start
    done.set()
    threads[-1].join()
    return plans, unique, answers, errors, reads, elapsed


def wait_processed(form, instances: set[str], timeout: float = 30.0) -> tuple[bool, float]:
    from mobility.collection.models import Submission

    started = time.monotonic()
    while True:
        rows = Submission.objects.filter(form=form, instance_id__in=instances)
        waiting = rows.filter(status=Submission.Status.RECEIVED).count()
        stored = rows.count()
        connection.close()
        if stored >= len(instances) and waiting == 0:
            return True, time.monotonic() - started
        if time.monotonic() - started > timeout:
            return False, time.monotonic() - started
        time.sleep(0.5)


def step_checks(
    form, step: int, plans, unique: int, answers, errors, reads, elapsed: float, rate: float
) -> dict:
    from mobility.collection.models import Submission, SubmissionConflict
    from mobility.tracking.models import Event, GroupMovement

    sends = sum(len(p) for p in plans)
    instances = {i for plan in plans for _, i in plan}
    processed, drain = wait_processed(form, instances)
    statuses = Counter(status for _, status, *_ in answers)
    created = Counter(i for i, status, *_ in answers if status == 201)
    latencies = sorted(a[3] for a in answers) or [0.0]
    p95 = latencies[int(len(latencies) * 0.95) - 1 if len(latencies) > 1 else 0]
    rows = Submission.objects.filter(form=form, instance_id__in=instances)
    status = Counter(rows.values_list("status", flat=True))
    events = Event.objects.filter(operation=form.operation, code__startswith="LOAD-").count()
    movements = GroupMovement.objects.filter(event__operation=form.operation).count()
    total_unique = Submission.objects.filter(form=form).count()
    checks = {
        "every send answered with success": (
            len(answers) == sends
            and not errors
            and set(statuses) <= {201, 202}
            and all(a[2] for a in answers),
            f"{len(answers)}/{sends} answered, {dict(statuses)}, {len(errors)} errors",
        ),
        "one 201 per unique instance": (
            len(created) == unique and set(created.values()) <= {1},
            f"{len(created)} created, {unique} unique",
        ),
        "exactly the unique instances stored": (rows.count() == unique, f"{rows.count()} stored"),
        "no conflict": (not SubmissionConflict.objects.filter(submission__form=form).exists(), ""),
        "all processed within 30 s": (
            processed and status == {Submission.Status.PROCESSED: unique},
            f"{dict(status)}, drained {drain:.1f} s after the step",
        ),
        "one event and one movement per instance (all steps)": (
            events == movements == total_unique,
            f"{events} events, {movements} movements, {total_unique} submissions",
        ),
        "rate kept": (
            elapsed <= ARGS.seconds * 1.05 + 1 and p95 < 2.0,
            f"{sends / elapsed:.0f} sends/s over {elapsed:.1f} s, p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms",
        ),
        "API reads all 200": (set(reads) <= {200} and reads[200] > 0, dict(reads)),
    }
    connection.close()
    return checks


def main() -> int:
    operation, form, version, users = setup()
    port = free_port()
    url, path = f"http://127.0.0.1:{port}", f"/collect/{operation.slug}/submission"
    procs = start_server(port)
    held = 0.0
    db = "PostgreSQL" if ARGS.database_url else "SQLite (WAL file)"
    print(
        f"Load — {db}, gunicorn {ARGS.workers}×{ARGS.threads} + job worker, form bound to tracking.events, "
        f"{ARGS.clients} phones, {ARGS.seconds:.0f} s per step, {os.cpu_count()} cores"
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.head(url + path, timeout=5).status_code == 401:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start:\n" + (TMP / "server.log").read_text()[-3000:])
            time.sleep(0.2)
        for step, rate in enumerate(float(r) for r in ARGS.rates.split(",")):
            plans, unique, answers, errors, reads, elapsed = run_step(
                url, path, users, form.xml_form_id, version, step, rate
            )
            checks = step_checks(form, step, plans, unique, answers, errors, reads, elapsed, rate)
            ok = all(passed for passed, _ in checks.values())
            sends = sum(len(p) for p in plans)
            print(
                f"\n  {rate:.0f}/s offered: {sends} sends, {unique} unique — {'HELD' if ok else 'NOT HELD'}"
            )
            for name, (passed, detail) in checks.items():
                print(f"    [{'ok' if passed else 'FAILED'}] {name}: {detail}")
            if not ok:
                break
            held = rate
    finally:
        stop_server(procs)
    log = (TMP / "server.log").read_text(errors="replace")
    print(
        f"\n  server log: {log.count('Traceback')} tracebacks, {log.count('database is locked')} 'database is locked'"
    )
    print(
        f"  submissions/s held with zero loss: {held:.0f}  ({db}, bound form, re-sends and races, API read meanwhile)"
    )
    return 0 if held else 1


if __name__ == "__main__":
    raise SystemExit(main())

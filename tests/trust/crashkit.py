"""Kill -9 `mobility serve` (the web server and its job worker) in the middle of a large import, a publish
and a registration dedup run; restart it; check that nothing is half-written and everything can finish.

Everything runs out of process, as on a laptop, on a throw-away var dir and database:

1. ``setup`` (a Django process) migrates and makes, for every round of the suite, an operation with a
   validating tracking round of MOZ admin3 figures (to publish), a registry of synthetic people (to
   deduplicate) and a generated COD p-code table of another country (to import), kept outside var/.
2. ``mobility serve`` starts (server + huey worker, SQLite queue in var/). Each round starts the three
   at once: the p-code table is uploaded on the import page, the round is published from its publish
   page, and a dedup run is put on the worker's queue. Round 0 runs them to the end (its duration sets
   the kill window); every other round SIGKILLs the whole process group at a seeded random moment.
3. What the kill left is read with plain SQL (sqlite3 / psycopg, so pytest's own database is never
   involved), then ``mobility serve`` starts again, which runs the product's recovery
   (``core.recovery.jobs_recover``). Then: no job is still running; each unit's rows are as before the
   round or as after it, never between; a failed import says it was interrupted and succeeds when run
   again from its page; an unpublished round publishes; the dedup run is run again and leaves the state
   it had reached if it had committed; the same file imported again changes nothing; every file under
   var/uploads is named by a job and no lock or temporary file is left.

Used by tests/trust/test_crash.py (a few kills) and bench/crash_suite.py (the figures).
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "crash-suite-admin-passphrase"
ADMIN = "crash-admin"
JOB_INTERRUPTED_START = "The import was interrupted"
# ISO3, the p-code prefix (ISO2) and a name: one country per round, so rounds never touch each other.
COUNTRIES = [
    ("ZMB", "ZM", "Zambia"),
    ("MWI", "MW", "Malawi"),
    ("TZA", "TZ", "Tanzania"),
    ("KEN", "KE", "Kenya"),
    ("UGA", "UG", "Uganda"),
    ("ZWE", "ZW", "Zimbabwe"),
    ("BWA", "BW", "Botswana"),
    ("NAM", "NA", "Namibia"),
    ("AGO", "AO", "Angola"),
    ("SSD", "SS", "South Sudan"),
    ("ETH", "ET", "Ethiopia"),
    ("SOM", "SO", "Somalia"),
    ("SDN", "SD", "Sudan"),
    ("TCD", "TD", "Chad"),
    ("NER", "NE", "Niger"),
    ("MLI", "ML", "Mali"),
    ("BFA", "BF", "Burkina Faso"),
    ("NGA", "NG", "Nigeria"),
    ("CMR", "CM", "Cameroon"),
    ("CAF", "CF", "Central African Republic"),
    ("HTI", "HT", "Haiti"),
    ("COL", "CO", "Colombia"),
    ("AFG", "AF", "Afghanistan"),
    ("YEM", "YE", "Yemen"),
    ("IRQ", "IQ", "Iraq"),
    ("LBY", "LY", "Libya"),
    ("UKR", "UA", "Ukraine"),
    ("MMR", "MM", "Myanmar"),
    ("BGD", "BD", "Bangladesh"),
    ("LBN", "LB", "Lebanon"),
]
VAR_ALLOWED = re.compile(
    r"^(mobility\.sqlite3(-wal|-shm)?|jobs\.sqlite3(-wal|-shm)?|secret_key|field_keys|hash_key)$"
)


@dataclass
class Config:
    database_url: str  # sqlite:////abs/path.sqlite3 or postgresql://user@host:port/name (made afresh)
    work_dir: Path  # holds var/, the generated files and the logs
    kills: int = 3
    seed: int = 8
    import_rows: int = 20_000  # rows of each generated p-code table (admin3 units)
    registry: int = 2_000  # people per dedup operation
    timeout: float = 240.0  # for anything to finish after a restart

    @property
    def var_dir(self) -> Path:
        return self.work_dir / "var"

    @property
    def rounds(self) -> int:
        return self.kills + 1


@dataclass
class RoundReport:
    number: int
    kill_after: float | None  # seconds after the round started; None: the reference round
    target: str = ""  # the unit the kill was aimed at
    times: dict = field(default_factory=dict)  # the reference round: when each unit ended
    landed: dict = field(default_factory=dict)  # unit → where the kill found it
    recovery: list[str] = field(default_factory=list)  # what the restart's recovery said
    reruns: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class SuiteReport:
    database: str
    rounds: list[RoundReport]
    reference_seconds: float
    orphans: list[str]

    @property
    def survived(self) -> int:
        return sum(1 for r in self.rounds if r.kill_after is not None and not r.problems)

    @property
    def problems(self) -> list[str]:
        out = [f"round {r.number}: {p}" for r in self.rounds for p in r.problems]
        return out + [f"orphan file in var/: {o}" for o in self.orphans]

    def as_dict(self) -> dict:
        return {**asdict(self), "survived": self.survived, "problems": self.problems}


# --- the database, read with plain SQL ---------------------------------------------------------------


class Db:
    def __init__(self, url: str):
        self.url = url
        parsed = urlparse(url)
        self.sqlite = parsed.scheme == "sqlite"
        self.path = unquote(parsed.path) if self.sqlite else ""
        self.name = parsed.path.lstrip("/")

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.sqlite:
            db = sqlite3.connect(self.path, timeout=60)
            try:
                return db.execute(sql.replace("%s", "?"), params).fetchall()
            finally:
                db.close()
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as db:
            return db.execute(sql, params).fetchall()

    def one(self, sql: str, params: tuple = ()):
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    def create(self) -> None:
        """A fresh, empty database."""
        if self.sqlite:
            for suffix in ("", "-wal", "-shm"):
                Path(self.path + suffix).unlink(missing_ok=True)
            return
        import psycopg
        from psycopg import sql

        admin = self.url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as db:
            db.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))
            db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))

    def drop(self) -> None:
        if self.sqlite:
            return
        import psycopg
        from psycopg import sql

        admin = self.url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as db:
            db.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))


# --- the served processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(config: Config) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_SETTINGS_MODULE", "SECRET_KEY", "MOBILITY_SYNC_JOBS", "REDIS_URL"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="mobility.settings",
        DATABASE_URL=config.database_url,
        MOBILITY_VAR_DIR=str(config.var_dir),
        MOBILITY_PLAIN_STATIC="1",
        PYTHONPATH=str(REPO),
        PYTHONUNBUFFERED="1",
    )
    return env


class Serve:
    """`mobility serve` in its own process group: SIGKILL of the group takes the server and the worker."""

    def __init__(self, config: Config):
        self.config = config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.config.work_dir / f"serve-{self.starts}.log"

    def start(self) -> None:
        import requests

        self.starts += 1
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the process' life
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mobility.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=REPO,
            env=server_env(self.config),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("mobility serve stopped:\n" + self.log_path.read_text()[-3000:])
            try:
                if requests.get(self.url + "/login/", timeout=10).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("mobility serve did not answer in 90 s:\n" + self.log_path.read_text()[-3000:])

    def kill(self) -> None:
        """SIGKILL the process group: no handler, no atexit, no rollback code of ours runs."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def recovery_lines(self) -> list[str]:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        keys = ("marked failed", "put back on the queue", "orphan file", "still running")
        return [
            line.strip()
            for line in text.splitlines()
            if any(k in line for k in keys) and " WARNING " not in line  # serve's own lines, not the log's
        ]


class Browser:
    """A signed-in data manager's browser: the import page and the publish page, with their CSRF token."""

    def __init__(self, url: str):
        import requests

        self.url = url
        self.session = requests.Session()
        self.session.get(url + "/login/", timeout=30)
        r = self.session.post(
            url + "/login/",
            data={"username": ADMIN, "password": PASSWORD, "csrfmiddlewaretoken": self._csrf()},
            allow_redirects=False,
            timeout=30,
        )
        if r.status_code != 302:
            raise RuntimeError(f"sign-in failed: {r.status_code}")

    def _csrf(self) -> str:
        return self.session.cookies.get("csrftoken", "")

    def post(self, path: str, data: dict | None = None, files: dict | None = None, timeout: float = 300):
        return self.session.post(
            self.url + path,
            data={**(data or {}), "csrfmiddlewaretoken": self._csrf()},
            files=files,
            allow_redirects=False,
            timeout=timeout,
            headers={"Referer": self.url + path},
        )


def enqueue(var_dir: Path, dotted: str, *args) -> None:
    """Put a task on the worker's SQLite queue from outside Django (as the web app would queue it)."""
    from huey import SqliteHuey

    module, name = dotted.rsplit(".", 1)
    queue = SqliteHuey("mobility", filename=str(var_dir / "jobs.sqlite3"))

    def task(*_args):  # only its name travels: the worker runs its own function of that name
        raise RuntimeError("runs in the worker")

    task.__module__, task.__name__, task.__qualname__ = module, name, name
    queue.task()(task)(*args)
    queue.storage.close()


# --- set-up (runs in a Django process) ---------------------------------------------------------------


def write_cod_table(path: Path, prefix: str, name: str, rows: int) -> int:
    """A COD-shaped admin0-3 p-code table of ``rows`` admin3 units; returns the number of areas."""
    admin1, admin2 = 10, max(1, rows // 1000)
    per_admin2 = max(1, rows // (admin1 * admin2))
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(
            [
                "ADM0_EN",
                "ADM0_PCODE",
                "ADM1_EN",
                "ADM1_PCODE",
                "ADM2_EN",
                "ADM2_PCODE",
                "ADM3_EN",
                "ADM3_PCODE",
            ]
        )
        for a in range(1, admin1 + 1):
            for b in range(1, admin2 + 1):
                for c in range(1, per_admin2 + 1):
                    out.writerow(
                        [
                            name,
                            prefix,
                            f"Province {a}",
                            f"{prefix}{a:02d}",
                            f"District {a}-{b}",
                            f"{prefix}{a:02d}{b:03d}",
                            f"Ward {a}-{b}-{c}",
                            f"{prefix}{a:02d}{b:03d}{c:04d}",
                        ]
                    )
    return 1 + admin1 + admin1 * admin2 + admin1 * admin2 * per_admin2


def _setup(config: Config) -> list[dict]:
    import datetime as dt

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from mobility.core import imports
    from mobility.core.models import Round
    from mobility.core.services import operation_create, round_advance, round_create
    from tests.gazetteer.gazetteer_fixtures import DATA, load_gazetteer

    call_command("migrate", verbosity=0)
    get_user_model().objects.create_superuser(ADMIN, "crash@example.org", PASSWORD)
    load_gazetteer("MOZ", geometry=False)
    with (DATA / "moz_adm0-3_pcodes_ocha_2019.csv").open(encoding="utf-8-sig", newline="") as fh:
        admin3 = sorted({row["ADM3 PCODE"].strip() for row in csv.DictReader(fh)})
    figures = config.work_dir / "figures.csv"
    with figures.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["admin3_code", "population_group", "households", "individuals"])
        for n, pcode in enumerate(admin3):
            for group in ("IDP", "RET-IDP", "HOST"):
                people = 40 + (n * 37 + len(group) * 11) % 900
                out.writerow([pcode, group, people // 5, people])
    rounds = []
    for k in range(config.rounds):
        iso3, prefix, country = COUNTRIES[k % len(COUNTRIES)]
        operation = operation_create(name=f"Crash round {k}", country_iso3="MOZ")
        round_ = round_create(
            operation=operation, number=1, start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 1, 31)
        )
        job = imports.run(
            imports.job_create(
                kind="tracking.template", source=figures, profile={"operation": operation.pk, "round": 1}
            )
        )
        if job.status != "succeeded":
            raise RuntimeError(f"set-up import failed: {job.error}")
        for to in (Round.Status.COLLECTING, Round.Status.VALIDATING):
            round_ = round_advance(round=round_, to=to)
        people = _registry(config.work_dir / f"registry-{k}.parquet", operation, config.registry, seed=k)
        table = config.work_dir / f"cod-{k}.csv"
        areas = write_cod_table(table, prefix, country, config.import_rows)
        rounds.append(
            {
                "operation": operation.pk,
                "slug": operation.slug,
                "round": round_.pk,
                "iso3": iso3,
                "table": str(table),
                "areas": areas,
                "people": people,
            }
        )
    (config.work_dir / "figures.csv").unlink()
    return rounds


def _registry(path: Path, operation, rows: int, seed: int) -> int:
    """Synthetic people with known duplicates (bench/dedup_synth.py), bulk-inserted with encrypted fields."""
    import datetime as dt

    import pyarrow.parquet as pq

    sys.path.insert(0, str(REPO / "bench"))
    import dedup_synth

    from mobility.registration.crypto import keyed_hash
    from mobility.registration.models import Household, Individual

    dedup_synth.write(path, rows, seed)
    table = pq.read_table(path).to_pylist()
    path.unlink()

    def home(r: dict, registered_on: dt.date) -> Household:
        return Household(
            operation=operation,
            reference=r["household_id"],
            size=1,
            location_pcode=r["location_pcode"] or "",
            phone=r["phone"] or "",
            phone_hash=keyed_hash(r["phone"], "phone") if r["phone"] else "",
            registered_on=registered_on,
        )

    homes = {}
    for r in table:
        if r["household_id"] not in homes:
            homes[r["household_id"]] = home(r, dt.date(2026, 10, 1))
    # Every 25th person registered again, unchanged, in a household of their own: pairs for certain.
    again = [
        {**r, "household_id": f"{r['household_id']}-again", "individual_id": f"{r['individual_id']}-again"}
        for r in table[::25]
    ]
    for r in again:
        homes[r["household_id"]] = home(r, dt.date(2026, 10, 2))
    table += again
    made = {h.reference: h.pk for h in Household.objects.bulk_create(list(homes.values()), batch_size=2000)}
    people = []
    for r in table:
        dob = r["date_of_birth"] or ""
        estimated = len(dob) == 4
        people.append(
            Individual(
                operation=operation,
                household_id=made[r["household_id"]],
                reference=r["individual_id"],
                given_name=r["given_name"] or "",
                family_name=r["family_name"] or "",
                name_hash=keyed_hash(f"{r['given_name']} {r['family_name']}", "name"),
                sex=r["sex"] or "u",
                date_of_birth=f"{dob}-07-01" if estimated else dob,
                dob_estimated=estimated,
                birth_year=r["birth_year"],
                relationship=r["relationship"],
            )
        )
    Individual.objects.bulk_create(people, batch_size=2000)
    return len(people)


def setup(config: Config) -> list[dict]:
    """Migrate and make the data in a separate Django process (the caller may be a pytest process)."""
    if config.work_dir.exists():
        shutil.rmtree(config.work_dir)
    config.var_dir.mkdir(parents=True)
    Db(config.database_url).create()
    out = config.work_dir / "setup.json"
    code = (
        "import json, sys; from pathlib import Path; from tests.trust import crashkit as k; "
        "c = k.Config(**{**json.loads(sys.argv[1]), 'work_dir': Path(json.loads(sys.argv[1])['work_dir'])}); "
        "Path(sys.argv[2]).write_text(json.dumps(k._setup(c)))"
    )
    arguments = {**asdict(config), "work_dir": str(config.work_dir)}
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(arguments), str(out)],
        cwd=REPO,
        env=server_env(config),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError("set-up failed:\n" + done.stderr[-5000:])
    return json.loads(out.read_text())


# --- what a round left -------------------------------------------------------------------------------


def snapshot(db: Db, unit: dict) -> dict:
    """The rows each unit of a round wrote, and the state of its import jobs."""
    jobs = db.rows(
        "SELECT id, status, error, summary, created, unchanged FROM core_importjob "
        "WHERE original_name = %s ORDER BY id",
        (Path(unit["table"]).name,),
    )
    return {
        "areas": db.one(
            "SELECT COUNT(*) FROM gazetteer_adminarea a JOIN gazetteer_gazetteerversion v ON a.version_id = v.id "
            "WHERE v.country_iso3 = %s",
            (unit["iso3"],),
        ),
        "versions": db.one(
            "SELECT COUNT(*) FROM gazetteer_gazetteerversion WHERE country_iso3 = %s", (unit["iso3"],)
        ),
        "jobs": [
            {
                "id": j[0],
                "status": j[1],
                "error": j[2],
                "phase": (json.loads(j[3]) if isinstance(j[3], str) else (j[3] or {})).get("phase", ""),
                "created": j[4],
                "unchanged": j[5],
            }
            for j in jobs
        ],
        "releases": db.one("SELECT COUNT(*) FROM publishing_release WHERE round_id = %s", (unit["round"],)),
        "cells": db.one(
            "SELECT COUNT(*) FROM publishing_publishedcell c JOIN publishing_release r ON c.release_id = r.id "
            "WHERE r.round_id = %s",
            (unit["round"],),
        ),
        "round_status": db.one("SELECT status FROM core_round WHERE id = %s", (unit["round"],)),
        "pairs": db.one(
            "SELECT COUNT(*) FROM registration_matchpair WHERE operation_id = %s", (unit["operation"],)
        ),
        "clustered": db.one(
            "SELECT COUNT(*) FROM registration_individual WHERE operation_id = %s AND cluster_id IS NOT NULL",
            (unit["operation"],),
        ),
        "clusters": db.one(
            "SELECT COUNT(*) FROM registration_dedupcluster WHERE operation_id = %s", (unit["operation"],)
        ),
        "models": db.one(
            "SELECT COUNT(*) FROM registration_dedupmodel WHERE operation_id = %s", (unit["operation"],)
        ),
        "dedup_runs": db.one(
            "SELECT COUNT(*) FROM core_auditentry WHERE action = 'registration.dedup_run' AND object_id = %s",
            (str(unit["operation"]),),
        ),
    }


def landed(at_kill: dict, publish_answered: bool) -> dict:
    """Where the kill found each unit, from what it had committed."""
    jobs = at_kill["jobs"]
    if not jobs:
        job = "upload (no job yet)"
    else:
        status, phase = jobs[-1]["status"], jobs[-1]["phase"]
        job = {
            "queued": "queued",
            "succeeded": "after the commit",
        }.get(status) or (f"{status}: {phase}" if phase else status)
        if status == "running":
            job = "reading the file" if phase == "reading" else "writing (transaction open)"
    if at_kill["releases"]:
        publish = "after the commit" + ("" if publish_answered else " (answer lost)")
    else:
        publish = "before the commit (nothing stored)"
    if at_kill["dedup_runs"]:
        dedup = "after the commit"
    elif at_kill["models"]:
        dedup = "scoring or writing (model trained)"
    else:
        dedup = "queued, reading or training"
    return {"import": job, "publish": publish, "dedup": dedup}


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise TimeoutError(f"waited {timeout:.0f} s for {what}")


def var_files(var_dir: Path) -> list[str]:
    return sorted(p.relative_to(var_dir).as_posix() for p in var_dir.rglob("*") if p.is_file())


def orphans(db: Db, var_dir: Path) -> list[str]:
    """Files in var/ that nothing names: uploads no job keeps, lock files, temporary files."""
    named = {f"uploads/{name}" for (name,) in db.rows("SELECT file FROM core_importjob WHERE file <> ''")}
    return [
        path
        for path in var_files(var_dir)
        if not VAR_ALLOWED.match(path) and path not in named and not path.startswith("staticfiles/")
    ]


# --- a round -----------------------------------------------------------------------------------------


def _start_units(serve: Serve, config: Config, unit: dict) -> tuple[Browser, dict]:
    """Upload the table, publish the round and queue the dedup run, all at once; returns the outcomes."""
    browser = Browser(serve.url)
    outcome: dict = {}
    table = Path(unit["table"])

    def upload():
        try:
            r = browser.post(
                "/imports/",
                data={"kind": "gazetteer.cod", "operation": "", "country": unit["iso3"], "edition": "crash"},
                files={"file": (table.name, table.read_bytes(), "text/csv")},
            )
            outcome["upload"] = r.status_code
        except Exception as exc:  # noqa: BLE001 - killed mid-request
            outcome["upload"] = type(exc).__name__

    def publish():
        try:
            r = browser.post(f"/publishing/{unit['slug']}/rounds/{unit['round']}/publish/")
            outcome["publish"] = r.status_code
        except Exception as exc:  # noqa: BLE001 - killed mid-request
            outcome["publish"] = type(exc).__name__

    enqueue(config.var_dir, "mobility.registration.tasks.dedup_run_task", unit["operation"])
    threads = [threading.Thread(target=upload), threading.Thread(target=publish)]
    for t in threads:
        t.start()
    outcome["threads"] = threads
    return browser, outcome


TARGETS = ("import", "publish", "dedup")


def _reference_times(db: Db, unit: dict, outcome: dict, started: float, timeout: float) -> dict:
    """Seconds from the round's start until each unit ended, and how long the import job itself ran."""
    ends: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(ends) < 3:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the reference round did not end in {timeout:.0f} s: {ends}")
        state, now = snapshot(db, unit), time.monotonic() - started
        if "import" not in ends and state["jobs"] and state["jobs"][-1]["status"] in ("succeeded", "failed"):
            ends["import"] = now
        if "publish" not in ends and "publish" in outcome:
            ends["publish"] = now
        if "dedup" not in ends and state["dedup_runs"]:
            ends["dedup"] = now
        time.sleep(0.1)
    ran = db.rows(
        "SELECT started_at, finished_at FROM core_importjob WHERE original_name = %s",
        (Path(unit["table"]).name,),
    )
    ends["import_run"] = _seconds(ran[-1][1]) - _seconds(ran[-1][0]) if ran and ran[-1][1] else ends["import"]
    return ends


def _seconds(stamp) -> float:
    """A stored timestamp (datetime, or ISO text on SQLite) as epoch seconds."""
    import datetime as dt

    if isinstance(stamp, str):
        stamp = dt.datetime.fromisoformat(stamp)
    return stamp.timestamp()


def _kill_moment(
    db: Db, unit: dict, target: str, reference: dict, rng: random.Random, started: float
) -> None:
    """Sleep until a seeded random moment inside the target unit's life (as the reference round timed it)."""
    if target == "import":
        # From the moment the job runs, a random point of its reading and writing.
        deadline = time.monotonic() + reference["import"] * 3 + 30
        while time.monotonic() < deadline:
            jobs = snapshot(db, unit)["jobs"]
            if jobs and jobs[-1]["status"] != "queued":
                break
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, reference["import_run"]))
        return
    time.sleep(max(0.0, started + rng.uniform(0.0, reference[target]) - time.monotonic()))


def run_round(
    serve: Serve,
    db: Db,
    config: Config,
    unit: dict,
    number: int,
    *,
    target: str | None = None,
    reference: dict | None = None,
    rng: random.Random | None = None,
):
    """One round: the three units at once; with a ``target``, kill -9 inside its life, restart, recover."""
    report = RoundReport(number=number, kill_after=None)
    started = time.monotonic()
    _browser, outcome = _start_units(serve, config, unit)
    if target is None:
        report.times = _reference_times(db, unit, outcome, started, config.timeout)
        for t in outcome["threads"]:
            t.join(timeout=60)
        report.seconds = time.monotonic() - started
        report.landed = {"import": "no kill", "publish": "no kill", "dedup": "no kill"}
        if (outcome.get("upload"), outcome.get("publish")) != (302, 302):
            report.problems.append(
                f"upload and publish answered {outcome.get('upload')}, {outcome.get('publish')}"
            )
        before = {}
    else:
        _kill_moment(db, unit, target, reference, rng, started)
        answered = isinstance(outcome.get("publish"), int)
        serve.kill()
        report.kill_after = round(time.monotonic() - started, 2)
        report.target = target
        for t in outcome["threads"]:
            t.join(timeout=60)
        before = snapshot(db, unit)
        report.landed = landed(before, answered)
        serve.start()  # `mobility serve` recovers before its server and worker start
        report.recovery = serve.recovery_lines()
        state = snapshot(db, unit)
        now = {j["id"]: j for j in state["jobs"]}
        for job in before["jobs"]:
            # The restarted worker runs queued jobs, never failed ones: a job that was running is failed
            # now, and says it was interrupted.
            if job["status"] == "running":
                seen = now.get(job["id"], {})
                if seen.get("status") != "failed" or not seen.get("error", "").startswith(
                    JOB_INTERRUPTED_START
                ):
                    report.problems.append(f"job {job['id']} was running at the kill and is now {seen}")
        _wait(
            lambda: not db.one("SELECT COUNT(*) FROM core_importjob WHERE status IN ('running', 'queued')"),
            config.timeout,
            "queued jobs",
        )
    browser = Browser(serve.url)
    _finish(serve, browser, db, config, unit, report)
    after = snapshot(db, unit)
    _check(report, unit, before, after, at_kill=target is not None)
    report.seconds = report.seconds or time.monotonic() - started
    return report


def _finish(serve: Serve, browser: Browser, db: Db, config: Config, unit: dict, report: RoundReport) -> None:
    """Run again whatever the kill stopped, as a user would, and once more what had finished."""
    table = Path(unit["table"])
    state = snapshot(db, unit)
    job = state["jobs"][-1] if state["jobs"] else None
    if job is None:
        report.reruns.append("import: uploaded again (the kill took the upload)")
        browser.post(
            "/imports/",
            data={"kind": "gazetteer.cod", "operation": "", "country": unit["iso3"], "edition": "crash"},
            files={"file": (table.name, table.read_bytes(), "text/csv")},
        )
    elif job["status"] == "failed":
        report.reruns.append(f"import: job {job['id']} run again from its page")
        browser.post(f"/imports/{job['id']}/rerun/")
    _wait(
        lambda: (s := snapshot(db, unit))["jobs"] and s["jobs"][-1]["status"] in ("succeeded", "failed"),
        config.timeout,
        "the import",
    )
    if state["releases"] == 0:
        report.reruns.append("publish: published again")
        r = browser.post(f"/publishing/{unit['slug']}/rounds/{unit['round']}/publish/")
        if r.status_code != 302:
            report.problems.append(f"publishing again answered {r.status_code}")
    # The dedup run is run again whatever the kill left: it must end where an uninterrupted run ends.
    runs = snapshot(db, unit)["dedup_runs"]
    report.reruns.append("dedup: run again" if runs == 0 else "dedup: run once more (idempotent)")
    enqueue(config.var_dir, "mobility.registration.tasks.dedup_run_task", unit["operation"])
    _wait(lambda: snapshot(db, unit)["dedup_runs"] > runs, config.timeout, "the dedup run")
    # The same file again: nothing changes.
    last = snapshot(db, unit)["jobs"][-1]["id"]
    browser.post(
        "/imports/",
        data={"kind": "gazetteer.cod", "operation": "", "country": unit["iso3"], "edition": "crash"},
        files={"file": (table.name, table.read_bytes(), "text/csv")},
    )
    _wait(
        lambda: (
            (s := snapshot(db, unit))["jobs"][-1]["id"] > last
            and s["jobs"][-1]["status"] in ("succeeded", "failed")
        ),
        config.timeout,
        "the repeated import",
    )


def _check(report: RoundReport, unit: dict, before: dict, after: dict, *, at_kill: bool) -> None:
    problems = report.problems
    jobs = after["jobs"]
    if not jobs or any(j["status"] != "succeeded" for j in jobs):
        problems.append(f"not every import job succeeded in the end: {jobs}")
    elif jobs[-1]["created"] or not jobs[-1]["unchanged"]:
        problems.append(f"the same file imported again changed something: {jobs[-1]}")
    if after["areas"] != unit["areas"] or after["versions"] != 1:
        problems.append(f"{after['areas']} areas in {after['versions']} version(s), {unit['areas']} expected")
    if after["releases"] != 1 or after["round_status"] != "published" or not after["cells"]:
        problems.append(f"publish: {after['releases']} release(s), round {after['round_status']}")
    if not after["dedup_runs"] or not after["pairs"] or after["models"] != 1:
        problems.append(
            f"dedup: {after['pairs']} pairs, {after['models']} models, {after['dedup_runs']} runs"
        )
    if not at_kill:
        return
    # Never between: what the kill left is all of a unit's rows or none of them.
    for unit_name, keys in (
        ("import", ("areas",)),
        ("publish", ("releases", "cells")),
        ("dedup", ("pairs", "clustered", "clusters")),
    ):
        left = tuple(before[k] for k in keys)
        if left != (0,) * len(keys) and left != tuple(after[k] for k in keys):
            problems.append(
                f"{unit_name}: the kill left {dict(zip(keys, left, strict=True))}, neither none nor the final rows"
            )


def run_suite(config: Config, log=print) -> SuiteReport:
    """Set up, run the reference round and ``config.kills`` kill rounds (targets in turn), check var/."""
    db = Db(config.database_url)
    units = setup(config)
    rng = random.Random(config.seed)
    serve = Serve(config)
    rounds: list[RoundReport] = []
    try:
        serve.start()
        reference = run_round(serve, db, config, units[0], 0)
        rounds.append(reference)
        log(
            f"round 0 (reference): {reference.seconds:.1f} s, ends "
            + ", ".join(f"{k} {v:.1f} s" for k, v in reference.times.items())
            + f" — {reference.problems or 'ok'}"
        )
        for number in range(1, config.rounds):
            target = TARGETS[(number - 1) % len(TARGETS)]
            report = run_round(
                serve, db, config, units[number], number, target=target, reference=reference.times, rng=rng
            )
            rounds.append(report)
            log(
                f"round {number}: kill -9 at {report.kill_after:.2f} s (aimed at the {target}) — "
                + ", ".join(f"{k}: {v}" for k, v in report.landed.items())
                + (f" — recovery: {'; '.join(report.recovery)}" if report.recovery else "")
                + f" — {report.problems or 'ok'}"
            )
    finally:
        serve.stop()
    return SuiteReport(
        database="PostgreSQL" if not db.sqlite else "SQLite (WAL)",
        rounds=rounds,
        reference_seconds=rounds[0].seconds if rounds else 0.0,
        orphans=orphans(db, config.var_dir),
    )

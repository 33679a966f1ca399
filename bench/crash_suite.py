"""Crash suite: kill -9 the server and the job worker in the middle of a large import, a publish and a dedup run.

Run:  .venv/bin/python bench/crash_suite.py [--kills 12] [--seed 8] [--import-rows 80000] [--registry 10000]
          [--database-url postgresql://postgres@127.0.0.1:5432/mob_crash]  (made afresh, dropped at the end)

What it does (tests/trust/crashkit.py; tests/trust/test_crash.py runs three kills of it in CI):
a throw-away var dir and database (SQLite in WAL mode by default, or the PostgreSQL database given,
created afresh), `mobility serve` started as on a laptop (Django's server + the huey worker on a SQLite
queue in var/). Each round starts three things at once — a generated COD p-code table of
--import-rows admin3 units uploaded on the import page, a validating round of MOZ admin3 figures
published from its publish page, and a dedup run of --registry synthetic people put on the worker's
queue — and SIGKILLs the whole process group at a seeded random moment of the life of one of them (in
turn: the import's reading and writing, the publish request, the dedup run), as the reference round
without a kill timed them. Then `mobility serve` starts again (its recovery runs first) and the suite
checks:

- no import job is left running: a job that was running is failed, saying it was interrupted;
- every unit's rows are as before the round or as after it, never between (p-code areas; release and
  published cells; match pairs, clustered people and clusters);
- whatever the kill stopped finishes when run again as a user would (the job's "Run again" button, the
  publish button, the dedup run queued again), and a dedup run or an import repeated after success
  changes nothing;
- nothing is left in var/ that no row names: no upload without its job, no lock file, no temporary file.

Prints each round (where the kill landed, what the recovery said) and "crashes survived: N of N".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.trust import crashkit  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--import-rows", type=int, default=80_000, help="admin3 rows of each uploaded table")
    parser.add_argument("--registry", type=int, default=10_000, help="people in each deduplicated registry")
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default: a temp SQLite file)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs, var/) for a look")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="mobility-crash-"))
    database_url = args.database_url or f"sqlite:///{work / 'run' / 'var' / 'mobility.sqlite3'}"
    config = crashkit.Config(
        database_url=database_url,
        work_dir=work / "run",
        kills=args.kills,
        seed=args.seed,
        import_rows=args.import_rows,
        registry=args.registry,
        timeout=900,
    )
    started = time.perf_counter()
    print(
        f"Crash suite: {args.kills} kill -9 rounds (+1 reference), seed {args.seed}, "
        f"{args.import_rows:,}-row imports, {args.registry:,}-person dedup runs, {os.cpu_count()} cores"
    )
    try:
        report = crashkit.run_suite(config, log=lambda line: print("  " + line, flush=True))
    finally:
        if args.database_url:
            crashkit.Db(database_url).drop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    kills = [r for r in report.rounds if r.kill_after is not None]
    print(
        f"\n{report.database}: reference round {report.reference_seconds:.1f} s, {time.perf_counter() - started:.0f} s in all"
    )
    for unit in ("import", "publish", "dedup"):
        where = Counter(r.landed[unit] for r in kills)
        print(
            f"  the kill found the {unit}: " + ", ".join(f"{place} ×{n}" for place, n in where.most_common())
        )
    recovered = sum(1 for r in kills if any("marked failed" in line for line in r.recovery))
    swept = sum(1 for r in kills if any("orphan file" in line for line in r.recovery))
    print(f"  restarts that failed an interrupted job: {recovered}; that removed orphan files: {swept}")
    print(f"  orphan files left in var/ at the end: {len(report.orphans)}")
    print(f"  crashes survived: {report.survived} of {len(kills)} kill -9")
    for problem in report.problems:
        print(f"  [FAILED] {problem}")
    if args.json:
        args.json.write_text(json.dumps(report.as_dict(), indent=1, default=str))
    return 1 if report.problems or report.survived != len(kills) else 0


if __name__ == "__main__":
    raise SystemExit(main())

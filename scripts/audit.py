"""`make audit`: known vulnerabilities in the pinned dependencies. Fails on a finding.

- Python: pip-audit over requirements/base.txt and requirements/dev.txt (the hashed pins), strict, so
  a package it could not look up fails too. It fails on any known vulnerability (PyPI's advisories carry
  no severity to filter on).
- npm: `npm audit --audit-level=high` over package-lock.json: high and critical fail, lower ones are listed.

A vulnerability service that cannot be reached (a machine without internet, or a package mirror that
serves packages but not the audit API) is not a finding: the audit says so in a WARNING and exits 0.
Whether pip-audit's service answers is proven with a canary, a pin with known advisories (Django 3.2.0):
a service that finds nothing there answered nothing. A real finding is never turned into a warning.

Example: make audit
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PIP_AUDIT = Path(sys.executable).parent / "pip-audit"
REQUIREMENTS = ["requirements/base.txt", "requirements/dev.txt"]
CANARY = "django==3.2.0"
SERVICES = ["pypi", "osv"]  # pip-audit's services, tried in this order
NPM_FAILING = ("high", "critical")
TIMEOUT = 600


def warn(message: str) -> None:
    print(f"WARNING: {message}", file=sys.stderr)


def run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)


# ---------------------------------------------------------------- Python


def canary_answered(report: dict) -> bool:
    """pip-audit's JSON for the canary lists advisories: the service was reached and answered."""
    return any(dep.get("vulns") for dep in report.get("dependencies", []))


def pip_service() -> str | None:
    """The first vulnerability service that answers the canary, or None."""
    with tempfile.TemporaryDirectory() as tmp:
        canary = Path(tmp) / "canary.txt"
        canary.write_text(CANARY + "\n")
        return next((s for s in SERVICES if _answers(s, canary)), None)


def _answers(service: str, canary: Path) -> bool:
    args = [
        "--disable-pip",
        "--no-deps",
        "-r",
        str(canary),
        "-s",
        service,
        "-f",
        "json",
        "--progress-spinner",
        "off",
    ]
    try:
        result = run([str(PIP_AUDIT), *args])
        return canary_answered(json.loads(result.stdout or "{}"))
    except (subprocess.TimeoutExpired, json.JSONDecodeError):
        return False


def audit_python() -> bool | None:
    """True when clean, False on a finding, None when it could not be checked (with a warning)."""
    if not PIP_AUDIT.exists():
        warn(
            f"{PIP_AUDIT} is missing: install requirements/dev.txt (make test does) to audit Python packages."
        )
        return None
    service = pip_service()
    if service is None:
        warn(
            "pip-audit could not reach a vulnerability service (PyPI's JSON API and OSV did not answer a "
            f"known-vulnerable canary, {CANARY}). The Python packages were NOT audited; run `make audit` "
            "on a machine with internet access."
        )
        return None
    clean = True
    for requirements in REQUIREMENTS:
        print(f"== pip-audit ({service}) {requirements}")
        result = run(
            [
                str(PIP_AUDIT),
                "--disable-pip",
                "--require-hashes",
                "--strict",
                "-r",
                requirements,
                "-s",
                service,
                "--progress-spinner",
                "off",
            ]
        )
        print((result.stdout + result.stderr).strip())
        clean = clean and result.returncode == 0
    return clean


# ---------------------------------------------------------------- npm


def npm_verdict(report: dict) -> tuple[str, str]:
    """('findings' | 'clean' | 'unreachable', what to say) from `npm audit --json`."""
    counts = report.get("metadata", {}).get("vulnerabilities")
    if not isinstance(counts, dict):
        reason = report.get("message") or report.get("error", {}).get("summary") or "no audit report"
        return "unreachable", str(reason)
    failing = {level: counts.get(level, 0) for level in NPM_FAILING if counts.get(level, 0)}
    others = {level: n for level, n in counts.items() if level != "total" and n and level not in NPM_FAILING}
    if failing:
        names = sorted(
            name for name, v in report.get("vulnerabilities", {}).items() if v.get("severity") in NPM_FAILING
        )
        return "findings", f"{failing} in {', '.join(names)}"
    return "clean", f"no high or critical advisories{f' (lower: {others})' if others else ''}"


def audit_npm() -> bool | None:
    if shutil.which("npm") is None:
        warn("npm is not installed: the front-end libraries were NOT audited.")
        return None
    print("== npm audit --audit-level=high (package-lock.json)")
    try:
        result = run(["npm", "audit", "--audit-level=high", "--json"])
        report = json.loads(result.stdout or "{}")
    except subprocess.TimeoutExpired:
        report = {"message": f"no answer within {TIMEOUT} s"}
    except json.JSONDecodeError:
        report = {"message": (result.stderr or result.stdout).strip()[-300:]}
    verdict, detail = npm_verdict(report)
    if verdict == "unreachable":
        warn(
            f"npm audit could not reach the registry's audit service ({detail}); npm packages were NOT audited."
        )
        return None
    print(f"npm audit: {detail}")
    return verdict == "clean"


def main() -> int:
    results = {"Python": audit_python(), "npm": audit_npm()}
    if False in results.values():
        print(
            "audit: known vulnerabilities found: upgrade the pins (make lock) or the npm packages",
            file=sys.stderr,
        )
        return 1
    unchecked = [name for name, clean in results.items() if clean is None]
    if unchecked:
        print(
            f"audit: WARNING: {' and '.join(unchecked)} packages not audited (no vulnerability service reached)"
        )
    else:
        print("audit: no known vulnerability found")
    return 0


if __name__ == "__main__":
    sys.exit(main())

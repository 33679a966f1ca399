"""`make audit` (scripts/audit.py) fails on a real finding and warns only when no service answered."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "audit.py"


@pytest.fixture(scope="module")
def audit():
    spec = importlib.util.spec_from_file_location("mobility_audit", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# pip-audit -f json for the canary, as a reachable and an unreachable PyPI answer it.
CANARY_ANSWERED = {
    "dependencies": [
        {"name": "django", "version": "3.2.0", "vulns": [{"id": "PYSEC-2021-98", "fix_versions": ["3.2.4"]}]}
    ],
    "fixes": [],
}
CANARY_UNANSWERED = {
    "dependencies": [
        {
            "name": "django",
            "skip_reason": "Dependency not found on PyPI and could not be audited: django (3.2.0)",
        }
    ],
    "fixes": [],
}


def test_the_canary_tells_a_silent_service_from_a_clean_audit(audit):
    assert audit.canary_answered(CANARY_ANSWERED)
    assert not audit.canary_answered(CANARY_UNANSWERED)
    assert not audit.canary_answered({})


def npm_report(**counts):
    levels = {"info": 0, "low": 0, "moderate": 0, "high": 0, "critical": 0, **counts}
    levels["total"] = sum(levels.values())
    vulnerabilities = {f"pkg-{level}": {"severity": level} for level, n in counts.items() if n}
    return {
        "auditReportVersion": 2,
        "vulnerabilities": vulnerabilities,
        "metadata": {"vulnerabilities": levels},
    }


@pytest.mark.parametrize(
    ("report", "verdict"),
    [
        (npm_report(), "clean"),
        (npm_report(moderate=2, low=1), "clean"),
        (npm_report(high=1), "findings"),
        (npm_report(critical=1, moderate=3), "findings"),
        # What the registry here answers: the audit endpoint refuses the POST.
        (
            {
                "message": "405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk",
                "statusCode": 405,
                "error": {"summary": "", "detail": ""},
            },
            "unreachable",
        ),
        ({}, "unreachable"),
    ],
)
def test_npm_fails_on_high_or_critical_only(audit, report, verdict):
    assert audit.npm_verdict(json.loads(json.dumps(report)))[0] == verdict


def test_a_high_finding_names_the_package(audit):
    verdict, detail = audit.npm_verdict(npm_report(high=1))
    assert verdict == "findings" and "pkg-high" in detail


def test_a_finding_is_never_masked_by_an_unreachable_other_service(audit, monkeypatch, capsys):
    monkeypatch.setattr(audit, "audit_python", lambda: False)
    monkeypatch.setattr(audit, "audit_npm", lambda: None)
    assert audit.main() == 1
    monkeypatch.setattr(audit, "audit_python", lambda: None)
    assert audit.main() == 0
    assert "not audited" in capsys.readouterr().out

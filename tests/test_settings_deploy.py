"""Production settings pass Django's deployment checks; a laptop needs no settings at all."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_check(env_extra, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DEBUG"}}
    env.update({"MOBILITY_VAR_DIR": str(tmp_path), **env_extra})
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy(tmp_path):
    result = run_check(
        {
            "MOBILITY_PRODUCTION": "1",
            "SECRET_KEY": "x" * 20 + "a-real-looking-secret-key-0123456789abcdef",
            "ALLOWED_HOSTS": "mobility.example.org",
        },
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = run_check({"MOBILITY_PRODUCTION": "1", "SECRET_KEY": ""}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_a_laptop_generates_and_keeps_its_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "SECRET_KEY"}}
    env["MOBILITY_VAR_DIR"] = str(tmp_path)
    code = "import mobility.settings as s; print(s.SECRET_KEY)"
    first = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    second = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert first.stdout == second.stdout and len(first.stdout.strip()) > 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_static_files_collect_with_hashed_names(tmp_path):
    """`make demo` runs collectstatic with the hashed manifest storage: every referenced file must exist."""
    import pytest

    if not (REPO / "mobility" / "web" / "static" / "vendor" / "htmx").exists():
        pytest.skip("the npm libraries are not vendored (run scripts/vendor.sh)")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_SETTINGS_MODULE", "MOBILITY_PLAIN_STATIC", "DEBUG"}
    }
    env["MOBILITY_VAR_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = (tmp_path / "staticfiles" / "staticfiles.json").read_text()
    assert "vendor/leaflet/leaflet.js" in manifest and "vendor/htmx/htmx.min.js" in manifest

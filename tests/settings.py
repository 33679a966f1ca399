"""Test settings: the real settings, with jobs run in-process, fast hashing and a throw-away var dir."""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("MOBILITY_PLAIN_STATIC", "1")

from mobility.settings import *  # noqa: E402,F403
from mobility.settings import HUEY, STORAGES  # noqa: E402

TEST_VAR = Path(tempfile.mkdtemp(prefix="mobility-test-"))
MEDIA_ROOT = TEST_VAR / "uploads"
FLOWS_ANALYTICS_DIR = TEST_VAR / "analytics" / "flows"
STORAGES = {**STORAGES, "default": {**STORAGES["default"], "OPTIONS": {"location": MEDIA_ROOT}}}
HUEY = {**HUEY, "immediate": True}
if "filename" in HUEY:
    HUEY["filename"] = str(TEST_VAR / "jobs.sqlite3")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SYNC_JOBS = True
STATIC_ROOT = TEST_VAR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_AUTOREFRESH = True
# Live-server threads must not keep PostgreSQL connections open past the test (teardown drops the db).
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405

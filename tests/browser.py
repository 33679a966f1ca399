"""What every browser test shares: Debian's chromium, its flags, and a skip when it or the page libraries are missing."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VENDOR = Path(__file__).resolve().parents[1] / "mobility" / "web" / "static" / "vendor"
PASSWORD = "a-long-test-password"

needs_chromium = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]


def launched_browser(monkeypatch):
    """A generator for a fixture: yields a Playwright browser and cleans up after it."""
    # Playwright's sync API runs an event loop in this thread; the test still reads the database directly.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not (VENDOR / "htmx" / "htmx.min.js").exists():
        pytest.skip("the page libraries are not vendored: run scripts/vendor.sh first")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        # Inside Playwright's event loop Django hands this thread other connection objects;
        # close them here, or PostgreSQL cannot drop the test database afterwards.
        from django.db import connections

        connections.close_all()
        browser.close()

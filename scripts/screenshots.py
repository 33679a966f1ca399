#!/usr/bin/env python3
"""Screenshots of every page at 1280 px and 390 px wide, in English and (for the main pages) Arabic and French.

Without --base-url it builds a throw-away demo: a temporary var dir (SQLite database, uploads, job
queue), `mobility migrate`, `mobility demo` (gazetteers, operations, two MOZ tracking rounds with
round 1 published, ETT events, site assessments), a few extra rows (a viewer, a failed import with
row errors, MOZ round 2 moved to validating so it can be published), and the development server on
a free port. With --base-url it only logs in and shoots. The tracking and publishing pages are shot
in every language; the dashboard and the releases also anonymously.

Example: .venv/bin/python scripts/screenshots.py
Example: .venv/bin/python scripts/screenshots.py --pages dashboard,area,release --languages ar
Example: .venv/bin/python scripts/screenshots.py --base-url http://127.0.0.1:8000 --password SECRET
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTHS = {"desktop": 1280, "phone": 390}

# Rows that make every page show something: a viewer, and a failed import with row errors.
EXTRA_SEED = r"""
from django.contrib.auth import get_user_model
from mobility.core import imports, services
from mobility.core.models import Operation, Role
from pathlib import Path
import tempfile

User = get_user_model()
admin = User.objects.get(username="admin")
if not Operation.objects.exists():  # the demo stopped before its operations: add them here
    from mobility.web.management.commands.demo import Command as Demo
    Demo()._operations(admin)
    Demo()._review_items()
admin.set_password(PASSWORD)
admin.save()
if not User.objects.filter(username="reader").exists():
    viewer = services.user_create(username="reader", password=PASSWORD)
    services.membership_set(user=viewer, operation=Operation.objects.order_by("name").first(), role=Role.VIEWER)
bad = Path(tempfile.mkdtemp()) / "moz_pcodes_with_mistakes.csv"
bad.write_text(
    "ADM0 PT,ADM0 PCODE,ADM1 PT,ADM1 PCODE,ADM2 PT,ADM2 PCODE\n"
    "Moçambique,MZ,Cabo Delgado,MZ01,Ancuabe,MZ0101\n"
    "Moçambique,MZ,Cabo Delgado,MZ01,Balama,MZ0101\n"
    "Moçambique,MZ,,MZ01,Chiure,MZ0103\n"
    "Moçambique,MZ,Cabo Delgado,MZ01,,MZ0104\n",
    encoding="utf-8",
)
job = imports.job_create(kind="gazetteer.cod", source=bad, profile={"country": "MOZ", "edition": "test"}, by=admin)
imports.run(job)
print("failed job", job.pk, job.status)
# A round waiting in validation, so the "Publish round" page has figures to check.
from mobility.core.models import Round
for waiting in Round.objects.filter(operation__country_iso3="MOZ", status=Round.Status.COLLECTING):
    services.round_advance(round=waiting, to=Round.Status.VALIDATING, by=admin)
"""

# A workbook to map on the "new profile" page: a real DTM one when ../shared has it, else the demo CSV.
WORKBOOKS = [
    REPO.parent
    / "shared/data/dtm/baseline_assessments/iom_dtm_hdx_dtm_mali_baseline_assessment_round_72.xlsx",
    REPO / "mobility/tracking/data/demo_moz_round1.csv",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict, *args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "manage.py"), *args], env=env, cwd=REPO, check=check, **kwargs
    )


def start_demo_server(password: str) -> tuple[str, subprocess.Popen, Path]:
    var_dir = Path(tempfile.mkdtemp(prefix="mobility-shots-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mobility.settings",
        "MOBILITY_VAR_DIR": str(var_dir),
        "DATABASE_URL": f"sqlite:///{var_dir / 'mobility.sqlite3'}",
        "MOBILITY_SYNC_JOBS": "1",
        "DEBUG": "1",  # static files straight from the apps (no collectstatic for a throw-away run)
        "SECRET_KEY": secrets.token_urlsafe(40),
    }
    print(f"demo database in {var_dir}")
    manage(env, "migrate", "--noinput", stdout=subprocess.DEVNULL)
    if manage(env, "demo", "--quiet", check=False, stdout=subprocess.DEVNULL).returncode:
        print("`mobility demo` stopped early; the screenshots use what it loaded, plus the extra rows")
    manage(env, "shell", "-c", f"PASSWORD = {password!r}\n{EXTRA_SEED}")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(REPO / "manage.py"), "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/", timeout=1)  # noqa: S310 - our own local server
            break
        except OSError:
            time.sleep(0.2)
    else:
        server.terminate()
        raise SystemExit("the development server did not start")
    return base, server, var_dir


def first_href(page, selector: str) -> str | None:
    link = page.locator(selector).first
    return link.get_attribute("href") if link.count() else None


def discover(page, base: str) -> dict[str, str]:
    """Paths of pages whose address depends on the data (a job, an area, an edition)."""
    paths = {}
    page.goto(base + "/imports/")
    failed = page.locator("tr:has(.badge-failed) a[href^='/imports/']").first
    paths["import-failed"] = failed.get_attribute("href") if failed.count() else None
    paths["import-ok"] = first_href(page, "tr:has(.badge-succeeded) a[href^='/imports/']")
    page.goto(base + "/gazetteer/PAK/")
    paths["area-pak-1"] = first_href(page, "table a[href*='/areas/']")
    if paths["area-pak-1"]:
        page.goto(base + paths["area-pak-1"])
        paths["area-pak-2"] = first_href(page, "table a[href*='/areas/']")
    page.goto(base + "/gazetteer/MOZ/")
    paths["area-moz-1"] = first_href(page, "table a[href*='/areas/']")
    page.goto(base + "/gazetteer/MOZ/versions/")
    paths["edition-moz"] = first_href(page, "table a[href*='/versions/']")
    page.goto(base + "/operations/")
    paths["operation"] = first_href(page, "table a[href^='/operations/']")
    moz = first_href(page, "table tr:has-text('MOZ') a[href^='/operations/']")
    slug = moz.rstrip("/").rsplit("/", 1)[-1] if moz else None
    if slug:
        paths["operation-moz"] = moz
        paths.update(
            {
                "dashboard": f"/tracking/{slug}/",
                "compare": f"/tracking/{slug}/compare/",
                "events": f"/tracking/{slug}/events/",
                "alerts": f"/tracking/{slug}/alerts/?all=1",
                "alert-rules": f"/tracking/{slug}/alert-rules/",
                "ett": f"/tracking/{slug}/ett-since-last-round/",
                "sites": f"/tracking/{slug}/sites/",
                "releases": f"/publishing/{slug}/releases/",
            }
        )
        page.goto(base + paths["dashboard"])
        paths["area"] = first_href(page, "#top-areas a")
        page.goto(base + paths["events"])
        paths["event"] = first_href(page, "table a[href*='/events/']")
        page.goto(base + paths["sites"])
        paths["site"] = first_href(page, "table a[href*='/sites/']")
        page.goto(base + paths["releases"])
        paths["release"] = first_href(page, "table a[href*='/releases/']")
        paths["round-publish"] = first_href(page, ".candidates a[href*='/publish/']")
    page.goto(base + "/tracking/profiles/")
    paths["profile"] = first_href(page, "table a[href^='/tracking/profiles/']")
    if paths["profile"]:
        paths["profile-import"] = paths["profile"] + "import/"
    return {key: value for key, value in paths.items() if value}


def shoot_new_profile(page, base: str, prefix: str, out: Path, wanted) -> None:
    """The mapping page empty, then (after uploading a workbook) with its columns suggested."""
    if wanted("profile-new"):
        shoot(page, base, prefix, "profile-new", "/tracking/profiles/new/", out)
    workbook = next((path for path in WORKBOOKS if path.exists()), None)
    if workbook is None or not wanted("profile-mapping"):
        return
    page.goto(base + "/tracking/profiles/new/")
    page.set_input_files("input[type=file]", str(workbook))
    page.click("form.form button[type=submit]")
    page.wait_for_load_state("networkidle")
    shoot(page, base, prefix, "profile-mapping", None, out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base-url", help="shoot a running server instead of a throw-away demo")
    parser.add_argument("--user", default="admin")
    parser.add_argument(
        "--password", default=None, help="password of --user (a throw-away demo sets its own)"
    )
    parser.add_argument("--out", default=str(REPO / "screenshots"))
    parser.add_argument(
        "--languages",
        default="en,ar,fr",
        help="comma-separated; pages beyond the main ones only in the first",
    )
    parser.add_argument("--pages", default="", help="comma-separated page names to shoot (default: all)")
    parser.add_argument("--widths", default="desktop,phone", help="comma-separated: desktop, phone")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    server = None
    password = args.password or secrets.token_urlsafe(12)
    if args.base_url:
        base = args.base_url.rstrip("/")
        if not args.password:
            raise SystemExit("--password is needed with --base-url")
    else:
        base, server, _ = start_demo_server(password)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    languages = [code.strip() for code in args.languages.split(",") if code.strip()]
    only = {name.strip() for name in args.pages.split(",") if name.strip()}
    widths = {device: WIDTHS[device] for device in args.widths.split(",") if device in WIDTHS}

    def wanted(name: str) -> bool:
        return not only or name in only

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for device, width in widths.items():
                for n, language in enumerate(languages):
                    context = browser.new_context(
                        viewport={"width": width, "height": 900}, device_scale_factor=1
                    )
                    host = base.split("://", 1)[1].split("/", 1)[0].split(":")[0]
                    context.add_cookies(
                        [{"name": "django_language", "value": language, "domain": host, "path": "/"}]
                    )
                    page = context.new_page()
                    errors: list[str] = []
                    page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
                    prefix = f"{language}-{device}"
                    if wanted("login"):
                        shoot(page, base, prefix, "login", "/login/", out)
                    anonymous = discover(page, base)
                    for name in ("dashboard", "releases", "release"):
                        if anonymous.get(name) and wanted(f"{name}-anon"):
                            shoot(page, base, prefix, f"{name}-anon", anonymous[name], out)
                    page.goto(base + "/login/")
                    page.fill("#id_username", args.user)
                    page.fill("#id_password", password)
                    page.click("form.form button[type=submit]")
                    page.wait_for_load_state("networkidle")
                    found = discover(page, base)
                    pages = [
                        ("home", "/"),
                        ("gazetteer", "/gazetteer/"),
                        ("country-pak", "/gazetteer/PAK/"),
                        ("area-pak-1", found.get("area-pak-1")),
                        ("area-moz-1", found.get("area-moz-1")),
                        ("review-list", "/gazetteer/review/"),
                        ("imports", "/imports/"),
                        ("import-failed", found.get("import-failed")),
                        ("operation", found.get("operation")),
                        ("operation-moz", found.get("operation-moz")),
                        ("dashboard", found.get("dashboard")),
                        ("area", found.get("area")),
                        ("compare", found.get("compare")),
                        ("events", found.get("events")),
                        ("event", found.get("event")),
                        ("alerts", found.get("alerts")),
                        ("alert-rules", found.get("alert-rules")),
                        ("ett", found.get("ett")),
                        ("sites", found.get("sites")),
                        ("site", found.get("site")),
                        ("profiles", "/tracking/profiles/"),
                        ("profile", found.get("profile")),
                        ("profile-import", found.get("profile-import")),
                        ("round-publish", found.get("round-publish")),
                        ("releases", found.get("releases")),
                        ("release", found.get("release")),
                    ]
                    if n == 0:
                        pages += [
                            ("country-moz", "/gazetteer/MOZ/"),
                            ("area-pak-2", found.get("area-pak-2")),
                            ("search", "/gazetteer/search/?q=dadu"),
                            ("versions-moz", "/gazetteer/MOZ/versions/"),
                            ("edition-moz", found.get("edition-moz")),
                            ("operations", "/operations/"),
                            ("import-ok", found.get("import-ok")),
                        ]
                    for name, path in pages:
                        if path and wanted(name):
                            shoot(page, base, prefix, name, path, out)
                    shoot_new_profile(page, base, prefix, out, wanted)
                    if errors:
                        print(f"JavaScript errors ({language}, {device}): {errors}")
                    context.close()
            browser.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
    print(f"screenshots in {out}")


def shoot(page, base: str, prefix: str, name: str, path: str | None, out: Path) -> None:
    """Open path (None: the page as it is) and save a full-page picture once its map has loaded."""
    if path is not None:
        page.goto(base + path)
    page.wait_for_load_state("networkidle")
    for map_id in ("#tracking-map", "#event-map"):
        if page.locator(map_id).count():
            try:
                page.wait_for_selector(f"{map_id}[data-done]", timeout=10_000)
            except Exception:  # noqa: BLE001 - a slow map still gets its picture
                print(f"  (the map of {path} did not finish loading)")
            page.wait_for_timeout(300)
    if page.locator("#area-map").count():
        # Wait for the boundaries (or the note saying there are none) before shooting.
        try:
            page.wait_for_selector("#area-map[data-done]", timeout=10_000)
        except Exception:  # noqa: BLE001 - a slow map still gets its picture
            print(f"  (the map of {path} did not finish loading)")
        page.wait_for_timeout(300)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        print(f"  ({prefix}-{name} is {overflow} px wider than the window)")
    target = out / f"{prefix}-{name}.png"
    page.screenshot(path=str(target), full_page=True)
    print(f"  {target.name}")


if __name__ == "__main__":
    main()

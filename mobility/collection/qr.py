"""The ODK Collect / KoboCollect settings QR code: JSON, zlib-compressed, base64-encoded.

Collect reads ``{"general": {...}, "admin": {...}, "project": {...}}``; any setting the code omits is
reset to its default when scanned. The code never carries a password: the enumerator types it on
the phone (Collect asks for it on the first download).
"""

from __future__ import annotations

import base64
import json
import zlib

import segno

DEFAULT_COLOR = "#0b6bb8"  # the pages' accent colour
# Settings Collect must never receive from this server (it would put them in a picture anyone can scan).
FORBIDDEN_KEYS = frozenset({"password", "admin_pw"})


def collect_settings(
    *, server_url: str, username: str = "", project_name: str, color: str = DEFAULT_COLOR
) -> dict:
    """The settings a phone needs to talk to this server: server, account name, forms kept in step."""
    general = {
        "server_url": server_url,
        "protocol": "odk_default",
        # The phone mirrors the forms the server lists: new versions download, closed forms go.
        "form_update_mode": "match_exactly",
        "periodic_form_updates_check": "every_fifteen_minutes",
        "autosend": "wifi_and_cellular",
    }
    if username:
        general["username"] = username
    name = project_name.strip() or server_url
    return {
        "general": general,
        "admin": {},
        "project": {"name": name, "icon": name[:1].upper(), "color": color},
    }


def collect_payload(settings: dict) -> str:
    """The exact string the QR code carries: base64(zlib(JSON))."""
    if FORBIDDEN_KEYS & set(settings.get("general", {})) or FORBIDDEN_KEYS & set(settings.get("admin", {})):
        raise ValueError("a Collect settings code must not carry a password")
    data = json.dumps(settings, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(zlib.compress(data, 9)).decode("ascii")


def payload_settings(payload: str) -> dict:
    """Read a settings code back (for tests and for checking a code someone shows you)."""
    return json.loads(zlib.decompress(base64.b64decode(payload)).decode("utf-8"))


def qr_svg(payload: str, *, title: str = "") -> str:
    """An inline SVG (no XML declaration) that scales with its box."""
    code = segno.make(payload, micro=False, error="m")
    return code.svg_inline(scale=4, border=4, omitsize=True, svgclass="qr-code", title=title or None)

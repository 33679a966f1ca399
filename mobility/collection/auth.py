"""How phones sign in to the OpenRosa endpoints: HTTP Digest, HTTP Basic (HTTPS only), or a session.

OpenRosa's Authentication API asks servers for RFC 2617 Digest (MD5, qop=auth) or Basic over HTTPS;
ODK Collect speaks both. Digest needs HA1 = MD5(username:realm:password), which cannot be derived
from Django's password hash, so ``DigestHA1Recorder`` (a password validator, listed in
AUTH_PASSWORD_VALIDATORS) stores it whenever a password is set.

Nonces carry their issue time and an HMAC made with SECRET_KEY, so no server-side store is needed:
a nonce past OPENROSA_NONCE_SECONDS is answered with ``stale=true`` and the phone re-signs silently.
Without a store a nonce can be replayed within its lifetime (the same trade-off Aggregate's
stateless mode made); HTTPS in production closes that door.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit
from urllib.request import parse_http_list, parse_keqv_list

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.backends import ModelBackend
from django.utils.crypto import salted_hmac

log = logging.getLogger(__name__)

NONCE_SALT = "mobility.collection.openrosa.nonce"
DEFAULT_NONCE_SECONDS = 300

AUTH_REQUIRED = "Sign in with the username and password of an app user of this operation."
AUTH_FAILED = "The username or password is wrong, or the account is disabled."
BASIC_NEEDS_HTTPS = (
    "Basic authentication is accepted only over HTTPS; use https:// in the server address "
    "(ODK Collect then signs in with Digest or Basic)."
)


def realm() -> str:
    return getattr(settings, "OPENROSA_REALM", "Mobility")


def nonce_seconds() -> int:
    return int(getattr(settings, "OPENROSA_NONCE_SECONDS", DEFAULT_NONCE_SECONDS))


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def ha1_of(username: str, password: str, realm_name: str | None = None) -> str:
    return md5_hex(f"{username}:{realm_name or realm()}:{password}")


def digest_record(*, user, password: str) -> None:
    """Store (or refresh) the user's Digest HA1 for the current realm."""
    from .models import DigestCredential

    if not getattr(user, "pk", None) or password is None:
        return
    name = realm()
    DigestCredential.objects.update_or_create(
        user=user, defaults={"realm": name, "ha1": ha1_of(user.get_username(), password, name)}
    )


class DigestHA1Recorder:
    """A password 'validator' that validates nothing: it records the Digest HA1 when a password is set.

    Django calls ``password_changed`` from ``User.save()`` after ``set_password``, so every way of
    setting a password (createsuperuser, ``mobility users create``, the admin, password change
    pages) keeps the Digest credential in step.
    """

    def validate(self, password, user=None):
        return None

    def password_changed(self, password, user=None):
        if user is not None:
            digest_record(user=user, password=password)

    def get_help_text(self):
        return ""


class DigestRecordingBackend(ModelBackend):
    """Django's ModelBackend that also records the Digest HA1 when a password sign-in succeeds.

    ``create_user`` and ``createsuperuser`` store the password hash without ``set_password`` + save,
    so the recorder never sees those passwords; with this backend the account's first web (or
    Basic) sign-in fills the gap and ODK Collect can then use Digest.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None and password:
            credential = getattr(user, "digest", None)
            name = realm()
            if (
                credential is None
                or credential.realm != name
                or not hmac.compare_digest(credential.ha1, ha1_of(user.get_username(), password, name))
            ):
                digest_record(user=user, password=password)
        return user


# ---------------------------------------------------------------- nonces


def _nonce_mac(body: str) -> str:
    return salted_hmac(NONCE_SALT, body, algorithm="sha256").hexdigest()[:32]


def nonce_issue(now: float | None = None) -> str:
    body = f"{int(now if now is not None else time.time()):x}.{secrets.token_hex(8)}"
    return f"{body}.{_nonce_mac(body)}"


def nonce_state(nonce: str, now: float | None = None) -> str:
    """'fresh', 'stale' (genuine but expired) or 'bad' (not one we issued)."""
    body, _, mac = nonce.rpartition(".")
    if not body or not hmac.compare_digest(mac, _nonce_mac(body)):
        return "bad"
    try:
        issued = int(body.split(".", 1)[0], 16)
    except ValueError:
        return "bad"
    age = (now if now is not None else time.time()) - issued
    if age < -60:  # issued in the future: another server's clock, or forged with a leaked key
        return "bad"
    return "fresh" if age <= nonce_seconds() else "stale"


# ---------------------------------------------------------------- requests


def basic_allowed(request) -> bool:
    return (
        request.is_secure()
        or bool(settings.DEBUG)
        or bool(getattr(settings, "OPENROSA_ALLOW_BASIC_HTTP", False))
    )


def challenge(request, *, domain: str, stale: bool = False) -> str:
    """The WWW-Authenticate value: Digest first, then Basic where Basic would be accepted.

    One header with two challenges (RFC 7235 section 4.1 allows a list), because Django cannot
    emit the same header twice; OkHttp (ODK Collect) and requests parse the list.
    """
    parts = [
        f'Digest realm="{realm()}", qop="auth", algorithm=MD5, nonce="{nonce_issue()}", domain="{domain}"'
        + (", stale=true" if stale else "")
    ]
    if basic_allowed(request):
        parts.append(f'Basic realm="{realm()}", charset="UTF-8"')
    return ", ".join(parts)


@dataclass
class AuthResult:
    user: object | None = None
    stale: bool = False
    message: str = AUTH_REQUIRED
    method: str = ""


def _digest_params(header: str) -> dict[str, str]:
    try:
        return {k.lower(): v for k, v in parse_keqv_list(parse_http_list(header)).items()}
    except ValueError:
        return {}


def _digest(request, header: str) -> AuthResult:
    from .models import DigestCredential

    params = _digest_params(header)
    required = ("username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce")
    if any(not params.get(k) for k in required):
        return AuthResult(message=AUTH_FAILED)
    if params["qop"] != "auth" or params.get("algorithm", "MD5").upper() != "MD5":
        return AuthResult(message=AUTH_FAILED)
    if params["realm"] != realm():
        return AuthResult(message=AUTH_FAILED)
    # The digest signs the URI the client asked for; it must be this request's path.
    if unquote(urlsplit(params["uri"]).path) != request.path:
        return AuthResult(message=AUTH_FAILED)
    state = nonce_state(params["nonce"])
    if state == "bad":
        return AuthResult(message=AUTH_FAILED)
    # One query for the account and its HA1 (no ORDER BY: this runs on every phone request).
    credential = next(
        iter(
            DigestCredential.objects.select_related("user").filter(
                **{f"user__{get_user_model().USERNAME_FIELD}": params["username"]}
            )[:1]
        ),
        None,
    )
    if credential is None or credential.realm != realm():
        return AuthResult(message=AUTH_FAILED)
    user = credential.user
    ha2 = md5_hex(f"{request.method}:{params['uri']}")
    expected = md5_hex(
        f"{credential.ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:{params['qop']}:{ha2}"
    )
    if not hmac.compare_digest(expected, params["response"].lower()):
        return AuthResult(message=AUTH_FAILED)
    if state == "stale":
        return AuthResult(stale=True)  # right password, old nonce: the phone re-signs without asking
    if not user.is_active:
        return AuthResult(message=AUTH_FAILED)
    return AuthResult(user=user, method="digest")


def _basic(request, header: str) -> AuthResult:
    import base64
    import binascii

    if not basic_allowed(request):
        return AuthResult(message=BASIC_NEEDS_HTTPS)
    try:
        decoded = base64.b64decode(header.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return AuthResult(message=AUTH_FAILED)
    username, sep, password = decoded.partition(":")
    if not sep:
        return AuthResult(message=AUTH_FAILED)
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_active:
        return AuthResult(message=AUTH_FAILED)
    credential = getattr(user, "digest", None)  # the reverse one-to-one raises an AttributeError subclass
    if credential is None or credential.realm != realm():
        # An account made before Digest was recorded (or under another realm) gains it on first use.
        digest_record(user=user, password=password)
    return AuthResult(user=user, method="basic")


def authenticate_request(request, *, allow_session: bool = True) -> AuthResult:
    """Who is calling: an Authorization header (Digest or Basic) first, then a browser session."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, rest = header.partition(" ")
    if scheme.lower() == "digest":
        result = _digest(request, rest)
    elif scheme.lower() == "basic":
        result = _basic(request, rest)
    else:
        user = getattr(request, "user", None)
        if allow_session and user is not None and user.is_authenticated and user.is_active:
            return AuthResult(user=user, method="session")
        return AuthResult()
    if result.user is None and not result.stale:
        log.info("openrosa sign-in refused (%s) on %s", scheme.lower(), request.path)
    return result

"""Field-level encryption of personal data, and keyed hashes to search it.

Every personal value (names, phone numbers, document numbers, dates of birth, specific needs) is
stored as an AES-256-GCM token: ``g1.<base64(key fingerprint[4] + nonce[12] + ciphertext)>``. The
associated data binds a token to its column (``registration.individual.given_name``), so a token
copied into another column does not decrypt.

Keys come from the environment:

- ``MOBILITY_FIELD_KEYS``: comma-separated base64 32-byte keys, the newest first. New values are
  encrypted with the first; any listed key decrypts. Rotating = put a new key first, run
  ``mobility registration rotate-key``, then drop the old key.
- ``MOBILITY_HASH_KEY``: the key of the keyed hashes (HMAC-SHA256) used for exact search
  (phone numbers, document numbers, names).

On a laptop (not production) both are generated once into ``var/`` (mode 0600) so the demo needs no
set-up; in production both must be set, and they must never be stored beside a backup.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import models
from django.db.models.lookups import Exact, IsNull

TOKEN_PREFIX = "g1."  # noqa: S105 (a format marker, not a secret)
BULK_MIN = 2000  # Keyring.decrypt_many: fewer tokens than this are opened one by one
BULK_THREADS = min(4, os.cpu_count() or 1)  # threads opening the tokens of one column
KEYS_MISSING = "{name} must be set when MOBILITY_PRODUCTION=1 (see docs/data-protection.md)"
KEY_INVALID = "{name}: each key must be 32 bytes in base64 (make one with `mobility registration new-key`)"
FILTER_ENCRYPTED = (
    "{column} is encrypted: a query cannot compare its values (search with the keyed hash, "
    "e.g. phone_hash = keyed_hash(value, 'phone'))"
)
UNREADABLE_VALUE = (
    "a stored personal value could not be decrypted (column {column}): is MOBILITY_FIELD_KEYS complete?"
)


class DecryptionError(Exception):
    """A token no listed key opens. ``column`` names where it was (never the value)."""

    def __init__(self, message: str, column: str = ""):
        super().__init__(message)
        self.column = column


def new_key() -> str:
    """A fresh random key, base64 (for MOBILITY_FIELD_KEYS or MOBILITY_HASH_KEY)."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _laptop_key(name: str, filename: str) -> str:
    if getattr(settings, "PRODUCTION", False):
        raise ImproperlyConfigured(KEYS_MISSING.format(name=name))
    path = Path(settings.VAR_DIR) / filename
    if not path.exists():
        path.write_text(new_key())
        path.chmod(0o600)
    return path.read_text().strip()


def _decode_key(text: str, name: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode())
    except (ValueError, TypeError):
        raise ImproperlyConfigured(KEY_INVALID.format(name=name)) from None
    if len(raw) != 32:
        raise ImproperlyConfigured(KEY_INVALID.format(name=name))
    return raw


def _fingerprint(key: bytes) -> bytes:
    return hashlib.sha256(b"mobility-field-key" + key).digest()[:4]


class Keyring:
    """The field keys (newest first), addressed by a 4-byte fingerprint carried in each token."""

    def __init__(self, keys: list[bytes]):
        if not keys:
            raise ImproperlyConfigured(KEYS_MISSING.format(name="MOBILITY_FIELD_KEYS"))
        self.keys = keys
        self.current = keys[0]
        self.current_fp = _fingerprint(keys[0])
        self._by_fp = {_fingerprint(k): AESGCM(k) for k in keys}
        self._current = self._by_fp[self.current_fp]

    def encrypt(self, text: str, aad: str) -> str:
        nonce = os.urandom(12)
        sealed = self._current.encrypt(nonce, text.encode("utf-8"), aad.encode())
        return TOKEN_PREFIX + base64.urlsafe_b64encode(self.current_fp + nonce + sealed).decode()

    def decrypt(self, token: str, aad: str) -> str:
        raw = self._raw(token, aad)
        cipher = self._by_fp.get(raw[:4])
        if cipher is None:
            raise DecryptionError(UNREADABLE_VALUE.format(column=aad), aad)
        try:
            return cipher.decrypt(raw[4:16], raw[16:], aad.encode()).decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            raise DecryptionError(UNREADABLE_VALUE.format(column=aad), aad) from None

    def decrypt_many(self, tokens, aad: str) -> list[str]:
        """``decrypt`` of a whole column (a sequence or a polars Series of tokens) at once; empty (or
        None) stays "". Same result, same errors.

        For a large column the base64 is decoded in bulk (polars, outside Python) and the tokens are
        opened by a few threads (AES-GCM releases the GIL): about a third of the time of a loop of
        ``decrypt``. Anything unusual (a token without the prefix, bad base64, an unknown key) falls
        back to that loop, which raises DecryptionError on the first bad token.
        """
        import polars as pl

        if isinstance(tokens, pl.Series):
            column = tokens.cast(pl.Utf8).fill_null("")
            tokens = column.to_list() if len(column) < BULK_MIN else column
        else:
            tokens = tokens if isinstance(tokens, list) else list(tokens)
            if len(tokens) < BULK_MIN:
                return self._decrypt_loop(tokens, aad)
            column = pl.Series(tokens, dtype=pl.Utf8).fill_null("")
        if len(column) < BULK_MIN:
            return self._decrypt_loop(tokens, aad)
        present = column != ""
        if not (column.str.starts_with(TOKEN_PREFIX) | ~present).all():
            return self._decrypt_loop(tokens, aad)
        try:
            raw = (
                column.str.slice(len(TOKEN_PREFIX))
                .str.replace_all("-", "+", literal=True)
                .str.replace_all("_", "/", literal=True)
                .str.decode("base64")
            )
        except pl.exceptions.ComputeError:
            return self._decrypt_loop(tokens, aad)
        sizes = raw.bin.size()
        if ((sizes < 4 + 12 + 16) & present).any():
            return self._decrypt_loop(tokens, aad)
        fingerprints = set(raw.filter(present).bin.slice(0, 4).unique().to_list())
        if not fingerprints <= set(self._by_fp):
            return self._decrypt_loop(tokens, aad)
        del column, present, sizes
        values = raw.to_list()
        del raw
        data = aad.encode()
        single = self._by_fp[next(iter(fingerprints))] if len(fingerprints) == 1 else None

        def open_part(start: int, end: int) -> list[str]:
            by_fp = self._by_fp
            out: list[str] = []
            append = out.append
            try:
                if single is not None:
                    opened = single.decrypt
                    for value in values[start:end]:
                        append(opened(value[4:16], value[16:], data).decode("utf-8") if value else "")
                else:
                    for value in values[start:end]:
                        append(
                            by_fp[value[:4]].decrypt(value[4:16], value[16:], data).decode("utf-8")
                            if value
                            else ""
                        )
            except (InvalidTag, UnicodeDecodeError):
                raise DecryptionError(UNREADABLE_VALUE.format(column=aad), aad) from None
            return out

        parts = max(1, min(BULK_THREADS, len(values) // (BULK_MIN // 2)))
        bounds = [(len(values) * i // parts, len(values) * (i + 1) // parts) for i in range(parts)]
        if parts == 1:
            return open_part(0, len(values))
        with ThreadPoolExecutor(max_workers=parts) as pool:
            chunks = list(pool.map(lambda b: open_part(*b), bounds))
        return [text for chunk in chunks for text in chunk]

    def _decrypt_loop(self, tokens, aad: str) -> list[str]:
        if not isinstance(tokens, list):
            tokens = list(tokens)
        decrypt = self.decrypt
        return [decrypt(token, aad) if token else "" for token in tokens]

    def is_current(self, token: str) -> bool:
        """Was this token sealed with the current (first) key? False for anything unreadable."""
        try:
            return self._raw(token, "")[:4] == self.current_fp
        except DecryptionError:
            return False

    def reencrypt(self, token: str, aad: str) -> str | None:
        """The token sealed again with the current key, or None when it already is (key rotation)."""
        if self.is_current(token):
            return None
        return self.encrypt(self.decrypt(token, aad), aad)

    @staticmethod
    def _raw(token: str, aad: str) -> bytes:
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
            raise DecryptionError(UNREADABLE_VALUE.format(column=aad), aad)
        try:
            raw = base64.urlsafe_b64decode(token[len(TOKEN_PREFIX) :].encode())
        except (binascii.Error, ValueError):
            raise DecryptionError(UNREADABLE_VALUE.format(column=aad), aad) from None
        if len(raw) < 4 + 12 + 16:
            raise DecryptionError(UNREADABLE_VALUE.format(column=aad), aad)
        return raw


@lru_cache(maxsize=1)
def keyring() -> Keyring:
    text = os.environ.get("MOBILITY_FIELD_KEYS") or _laptop_key("MOBILITY_FIELD_KEYS", "field_keys")
    return Keyring([_decode_key(k, "MOBILITY_FIELD_KEYS") for k in text.split(",") if k.strip()])


@lru_cache(maxsize=1)
def hash_key() -> bytes:
    text = os.environ.get("MOBILITY_HASH_KEY") or _laptop_key("MOBILITY_HASH_KEY", "hash_key")
    return _decode_key(text, "MOBILITY_HASH_KEY")


def reset_keys() -> None:
    """Forget cached keys (after the environment changed: tests, key rotation)."""
    keyring.cache_clear()
    hash_key.cache_clear()


def normalise_for_hash(value: str) -> str:
    """Case, accents, spacing and punctuation do not change a keyed hash."""
    text = unicodedata.normalize("NFKD", str(value)).casefold()
    text = "".join(c for c in text if not unicodedata.combining(c))
    return "".join(c for c in text if c.isalnum())


def keyed_hash(value: str | None, purpose: str, *, key: bytes | None = None) -> str:
    """HMAC-SHA256 of the normalised value, per purpose ("phone", "document:passport", "name").

    ``key`` defaults to MOBILITY_HASH_KEY; rotating the hash key passes the old one to compare.
    """
    if value is None:
        return ""
    text = normalise_for_hash(value)
    if not text:
        return ""
    return hmac.new(key or hash_key(), f"{purpose}\x1f{text}".encode(), hashlib.sha256).hexdigest()


def decode_key(text: str, name: str = "key") -> bytes:
    """A base64 32-byte key as bytes, or ImproperlyConfigured naming where it came from."""
    return _decode_key(text, name)


class _EmptyOnlyExact(Exact):
    """``= ""`` works (an empty value is stored empty); any other value would silently match nothing."""

    def get_prep_lookup(self):
        if self.rhs not in ("", None, [], {}):
            raise FieldError(
                FILTER_ENCRYPTED.format(column=getattr(self.lhs.output_field, "aad", "the column"))
            )
        return super().get_prep_lookup()


class EncryptedTextField(models.TextField):
    """A text column stored encrypted; reads give the plain text, "" stays "" (not encrypted).

    Only ``isnull`` and ``= ""`` may be queried: a token is different each time a value is sealed,
    so any other comparison would quietly find nothing; it raises FieldError instead.
    """

    def get_lookup(self, lookup_name):
        if lookup_name == "exact":
            return _EmptyOnlyExact
        if lookup_name == "isnull":
            return IsNull
        return None  # Django then reports the lookup as unsupported (FieldError)

    def contribute_to_class(self, cls, name, *args, **kwargs):
        super().contribute_to_class(cls, name, *args, **kwargs)
        self.aad = f"{cls._meta.label_lower}.{name}"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return self._load(keyring().decrypt(value, self.aad))

    def get_prep_value(self, value):
        value = super().get_prep_value(self._dump(value))
        if value is None or value == "":
            return value
        return keyring().encrypt(value, self.aad)

    def _dump(self, value):
        return value

    def _load(self, text):
        return text

    def to_python(self, value):
        return value


class EncryptedJSONField(EncryptedTextField):
    """A JSON value (a list of aliases, a dict of answers) stored encrypted."""

    def _dump(self, value):
        if value is None or value == "" or value == [] or value == {}:
            return ""
        return json.dumps(value, ensure_ascii=False, sort_keys=True)

    def _load(self, text):
        return json.loads(text)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return self._empty()
        return super().from_db_value(value, expression, connection)

    def _empty(self):
        return [] if isinstance(self.default, list) or self.default is list else {}

    def get_prep_value(self, value):
        text = self._dump(value)
        if text == "":
            return ""
        return keyring().encrypt(text, self.aad)

    def value_to_string(self, obj):
        return json.dumps(self.value_from_object(obj))

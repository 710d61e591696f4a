"""Encryption at rest of personal fields, and their keyed blind indexes (README, "Security: keys").

A value is stored as the token `<key id>$<nonce>$<ciphertext and tag>` (base64url, no padding):
SM4-GCM (GB/T 32907, the commercial-cryptography cipher Chinese government systems are expected
to use) for a 16-byte key, AES-256-GCM for a 32-byte key. The key id names the key it was sealed
with, so keys can be rotated while old values are still read (`manage.py rotate_field_keys`).
Each token is bound to its `context` (what the value is, e.g. "id_number") as associated data: a
token copied into another kind of column does not open.

Exact-match lookups go through a blind index: HMAC-SM3 (HMAC-SHA256 where SM3 is unavailable) of
the context and the normalised value, under its own key, stored in its own indexed column. It
reveals equality and nothing else; without the key nobody can compute it from a guessed number.

Keys come from the environment (settings FIELD_ENCRYPTION_KEYS, "kid:base64key,kid2:..." with the
current key first, and FIELD_BLIND_INDEX_KEY, base64); tests and local settings use fixed
development keys, production refuses to start without them (config/settings/production.py).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac as std_hmac
import json
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
TAG_BYTES = 16
SEPARATOR = "$"
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
_TOKEN = re.compile(r"^~?[A-Za-z0-9_-]{1,16}\$[A-Za-z0-9_-]{16}\$[A-Za-z0-9_-]{22,}$")
# A value sealed under one person's own data key (crypto-shredding, below): its key id is "~" and
# the person's id, a form no configured key id can take (KEY_ID has no "~").
SUBJECT_PREFIX = "~"
# What is stored in place of a person's value once their data key is destroyed (a value written
# after their erasure is not kept at all).
ERASED_MARK = "~erased"


class KeyConfigurationError(ValueError):
    """The keys in the environment are missing or malformed."""


class DecryptionError(ValueError):
    """A stored value does not open: unknown key id, wrong context, or tampered with."""


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@functools.cache
def sm4_gcm_available() -> bool:
    """Whether the OpenSSL under `cryptography` does SM4 in GCM mode (OpenSSL 3 does; some FIPS
    builds do not)."""
    try:
        encryptor = Cipher(algorithms.SM4(bytes(16)), modes.GCM(bytes(NONCE_BYTES))).encryptor()
        encryptor.update(b"x")
        encryptor.finalize()
    except (UnsupportedAlgorithm, ValueError, AttributeError):
        return False
    return True


@functools.cache
def sm3_available() -> bool:
    try:
        crypto_hmac.HMAC(bytes(32), hashes.SM3())
    except (UnsupportedAlgorithm, AttributeError):
        return False
    return True


@dataclass(frozen=True)
class FieldKey:
    """One data key: SM4-GCM for 16 bytes, AES-256-GCM for 32."""

    kid: str
    secret: bytes

    @property
    def algorithm(self) -> str:
        return "SM4-GCM" if len(self.secret) == 16 else "AES-256-GCM"

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        if len(self.secret) == 32:
            return nonce + AESGCM(self.secret).encrypt(nonce, plaintext, aad)
        encryptor = Cipher(algorithms.SM4(self.secret), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(aad)
        body = encryptor.update(plaintext) + encryptor.finalize()
        return nonce + body + encryptor.tag

    def open(self, nonce: bytes, body: bytes, aad: bytes) -> bytes:
        if len(self.secret) == 32:
            return AESGCM(self.secret).decrypt(nonce, body, aad)
        if len(body) < TAG_BYTES:
            raise InvalidTag
        ciphertext, tag = body[:-TAG_BYTES], body[-TAG_BYTES:]
        decryptor = Cipher(algorithms.SM4(self.secret), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(aad)
        return decryptor.update(ciphertext) + decryptor.finalize()


@dataclass(frozen=True)
class Keyring:
    """The data keys (the first seals, all open) and the blind-index key."""

    keys: tuple[FieldKey, ...]
    index_key: bytes

    @property
    def current(self) -> FieldKey:
        return self.keys[0]

    def key(self, kid: str) -> FieldKey:
        for key in self.keys:
            if key.kid == kid:
                return key
        raise DecryptionError(f"no key with id {kid!r} is configured")


def _decode_key(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyConfigurationError(f"{what} is not valid base64") from exc


def parse_keys(spec: str) -> tuple[FieldKey, ...]:
    """FIELD_ENCRYPTION_KEYS: "kid1:base64key,kid2:base64key", the current key first."""
    keys: list[FieldKey] = []
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        kid, sep, encoded = part.strip().partition(":")
        if not sep or not KEY_ID.match(kid):
            raise KeyConfigurationError(
                "FIELD_ENCRYPTION_KEYS: each key is <id>:<base64>, the id 1-16 of A-Z a-z 0-9 _ -"
            )
        secret = _decode_key(encoded, f"FIELD_ENCRYPTION_KEYS key {kid!r}")
        if len(secret) == 16 and not sm4_gcm_available():
            raise KeyConfigurationError(
                f"FIELD_ENCRYPTION_KEYS key {kid!r} is a 16-byte SM4 key, but this OpenSSL has no "
                "SM4-GCM: configure a 32-byte AES-256-GCM key"
            )
        if len(secret) not in (16, 32):
            raise KeyConfigurationError(
                f"FIELD_ENCRYPTION_KEYS key {kid!r}: 16 bytes (SM4-GCM) or 32 bytes (AES-256-GCM)"
            )
        if any(key.kid == kid for key in keys):
            raise KeyConfigurationError(f"FIELD_ENCRYPTION_KEYS: key id {kid!r} given twice")
        keys.append(FieldKey(kid, secret))
    if not keys:
        raise KeyConfigurationError("FIELD_ENCRYPTION_KEYS is empty")
    return tuple(keys)


def parse_index_key(text: str) -> bytes:
    secret = _decode_key(text or "", "FIELD_BLIND_INDEX_KEY")
    if len(secret) < 32:
        raise KeyConfigurationError("FIELD_BLIND_INDEX_KEY must be at least 32 bytes")
    return secret


def keyring_from(keys_spec: str, index_key: str) -> Keyring:
    return Keyring(parse_keys(keys_spec), parse_index_key(index_key))


_keyring: Keyring | None = None
_keyring_source: tuple[str, str] | None = None


def keyring() -> Keyring:
    """The keys in force, parsed once per process (again if the settings change, as in tests)."""
    global _keyring, _keyring_source
    from django.conf import settings

    source = (settings.FIELD_ENCRYPTION_KEYS, settings.FIELD_BLIND_INDEX_KEY)
    if _keyring is None or source != _keyring_source:
        _keyring = keyring_from(*source)
        _keyring_source = source
    return _keyring


# --- Values -------------------------------------------------------------------------------------


def is_token(value: Any) -> bool:
    return isinstance(value, str) and bool(_TOKEN.match(value))


def token_key_id(token: str) -> str:
    return token.split(SEPARATOR, 1)[0]


def encrypt(
    plaintext: str, *, context: str, ring: Keyring | None = None, key: FieldKey | None = None
) -> str:
    """Seal under the current field key (or under `key`, a person's own)."""
    key = key or (ring or keyring()).current
    sealed = key.seal(plaintext.encode("utf-8"), context.encode("utf-8"))
    nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    return SEPARATOR.join((key.kid, _b64encode(nonce), _b64encode(body)))


def decrypt(
    token: str, *, context: str, ring: Keyring | None = None, key: FieldKey | None = None
) -> str:
    """The plaintext of `token`; DecryptionError if its key is unknown, its context another, or
    any byte of it changed. `key`: a person's own (the token names it)."""
    parts = token.split(SEPARATOR)
    if len(parts) != 3:
        raise DecryptionError("not an encrypted value")
    kid, nonce_text, body_text = parts
    if key is not None and key.kid != kid:
        raise DecryptionError(f"the value is under key {kid!r}, not {key.kid!r}")
    key = key or (ring or keyring()).key(kid)
    try:
        nonce, body = _b64decode(nonce_text), _b64decode(body_text)
        if len(nonce) != NONCE_BYTES:
            raise DecryptionError("malformed nonce")
        return key.open(nonce, body, context.encode("utf-8")).decode("utf-8")
    except (InvalidTag, binascii.Error, ValueError) as exc:
        if isinstance(exc, DecryptionError):
            raise
        raise DecryptionError(f"the value under key {kid!r} does not authenticate") from exc


def blind_index(value: str, *, context: str, ring: Keyring | None = None) -> bytes:
    """The keyed blind index of a normalised value: HMAC-SM3 (HMAC-SHA256 fallback), 32 bytes."""
    key = (ring or keyring()).index_key
    message = context.encode("utf-8") + b"\x00" + value.encode("utf-8")
    if sm3_available():
        mac = crypto_hmac.HMAC(key, hashes.SM3())
        mac.update(message)
        return mac.finalize()
    return std_hmac.new(key, message, "sha256").digest()


def keyed_digest(data: bytes) -> str:
    """A keyed fingerprint (hex) of data that may hold personal fields (an idempotent request's
    body): equal bodies give equal digests, a guessed ID number does not."""
    return std_hmac.new(keyring().index_key, data, "sha256").hexdigest()


# --- JSON documents with personal values (the log's data) ---------------------------------------


def seal_values(document: Any, *, keys: frozenset[str], context: str) -> Any:
    """A copy of `document` whose values under any of `keys` (at any depth) are encrypted tokens:
    the structure and the other values stay readable (field names, flags, dates)."""
    if isinstance(document, dict):
        return {
            name: (
                _seal_leaf(value, context)
                if name in keys
                else seal_values(value, keys=keys, context=context)
            )
            for name, value in document.items()
        }
    if isinstance(document, list):
        return [seal_values(item, keys=keys, context=context) for item in document]
    return document


def _seal_leaf(value: Any, context: str) -> Any:
    if value in (None, "") or is_token(value) or value == ERASED_MARK:
        return value
    return encrypt(json.dumps(value, ensure_ascii=False), context=context)


def open_values(document: Any, *, context: str) -> Any:
    """The inverse of seal_values (and of seal_subject_values): every token opened back into its
    JSON value; a value of a person whose data key was destroyed opens as ERASED."""
    shared = _opened_subject_keys.get()
    return _open(document, context, {} if shared is None else shared)


# Within one unit of work (a request: common.crypto.SubjectKeysOnceMiddleware), a person's data
# key is looked up once however many documents of theirs are opened: a card's history is one
# holder's, a row each. Destroying a key (privacy/retention.py) forgets it here too.
_opened_subject_keys: ContextVar[dict[int, FieldKey | None] | None] = ContextVar(
    "opened_subject_keys", default=None
)


@contextmanager
def subject_keys_looked_up_once() -> Iterator[None]:
    token = _opened_subject_keys.set({})
    try:
        yield
    finally:
        _opened_subject_keys.reset(token)


def forget_subject_keys(subjects: Iterable[int]) -> None:
    shared = _opened_subject_keys.get()
    if shared is not None:
        for subject in subjects:
            shared.pop(subject, None)


class SubjectKeysOnceMiddleware:
    """Each request opens each person's data key at most once (subject_keys_looked_up_once)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        with subject_keys_looked_up_once():
            return self.get_response(request)


def _open(document: Any, context: str, subject_keys: dict[int, FieldKey | None]) -> Any:
    if isinstance(document, dict):
        return {name: _open(value, context, subject_keys) for name, value in document.items()}
    if isinstance(document, list):
        return [_open(item, context, subject_keys) for item in document]
    if document == ERASED_MARK:
        return ERASED
    if is_subject_token(document):
        subject = subject_of(document)
        if subject not in subject_keys:  # one look-up per person per document
            subject_keys[subject] = _subject_key_provider().for_opening(subject)
        key = subject_keys[subject]
        if key is None:
            return ERASED
        return json.loads(decrypt(document, context=_subject_context(context, subject), key=key))
    if is_token(document):
        return json.loads(decrypt(document, context=context))
    return document


# --- Crypto-shredding: a person's values under their own data key ------------------------------
#
# A log that may never be changed (the transition log) can still forget a person: their values in
# it are sealed under a data key of their own (random, kept wrapped by the field key in a row the
# service may update), and erasing them is destroying that key. The token names the person
# ("~<id>$nonce$body", bound to its context and person), the rest of the document stays as it is.
# Which keys exist, and where they are kept, is the privacy app's (privacy/keys.py), registered at
# start-up: common knows no app.


class Erased(str):
    """A person's value whose data key was destroyed (retention, PIPL art. 47): it reads as this,
    never as the value. Masks and displays show it as erased."""

    __slots__ = ()


ERASED = Erased("[erased]")


def is_erased(value: Any) -> bool:
    return isinstance(value, Erased)


class SubjectKeyProvider(Protocol):
    def for_sealing(self, subject: int) -> FieldKey | None:
        """The person's data key (made on first use); None once it was destroyed."""

    def for_opening(self, subject: int) -> FieldKey | None:
        """The person's data key; None if it was destroyed (or never made)."""


_provider: SubjectKeyProvider | None = None


def register_subject_key_provider(provider: SubjectKeyProvider) -> None:
    global _provider
    _provider = provider


def _subject_key_provider() -> SubjectKeyProvider:
    if _provider is None:
        raise KeyConfigurationError("no provider of per-person data keys is registered")
    return _provider


def is_subject_token(value: Any) -> bool:
    return is_token(value) and value.startswith(SUBJECT_PREFIX)


def subject_of(token: str) -> int:
    return int(token_key_id(token)[len(SUBJECT_PREFIX) :])


def subject_key_id(subject: int) -> str:
    return f"{SUBJECT_PREFIX}{subject}"


def _subject_context(context: str, subject: int) -> str:
    return f"{context}|{subject_key_id(subject)}"


def is_subject_value(value: Any) -> bool:
    """Sealed under a person's own key, or erased: the field keys' rotation leaves it alone (the
    person's key is rotated by re-wrapping it)."""
    return value == ERASED_MARK or is_subject_token(value)


def seal_subject_values(
    document: Any,
    *,
    keys: frozenset[str],
    context: str,
    subject: int,
    provider: SubjectKeyProvider | None = None,
) -> Any:
    """A copy of `document` whose values under any of `keys` are sealed under the person's own
    data key (or, if it was destroyed, not kept: ERASED_MARK). One key look-up, and none if the
    document holds no such value."""
    if not has_values(document, keys):
        return document
    key = (provider or _subject_key_provider()).for_sealing(subject)
    return _seal_subject(document, keys, _subject_context(context, subject), key)


def has_values(document: Any, keys: frozenset[str]) -> bool:
    if isinstance(document, dict):
        return any(
            (name in keys and value not in (None, "") and not is_subject_value(value))
            or has_values(value, keys)
            for name, value in document.items()
        )
    if isinstance(document, list):
        return any(has_values(item, keys) for item in document)
    return False


def _seal_subject(document: Any, keys: frozenset[str], context: str, key: FieldKey | None) -> Any:
    if isinstance(document, dict):
        return {
            name: (
                _seal_subject_leaf(value, context, key)
                if name in keys
                else _seal_subject(value, keys, context, key)
            )
            for name, value in document.items()
        }
    if isinstance(document, list):
        return [_seal_subject(item, keys, context, key) for item in document]
    return document


def _seal_subject_leaf(value: Any, context: str, key: FieldKey | None) -> Any:
    if value in (None, "") or is_subject_value(value):
        return value
    if key is None:
        return ERASED_MARK
    return encrypt(json.dumps(value, ensure_ascii=False), context=context, key=key)


def generate_key(algorithm: str = "SM4-GCM") -> str:
    """A new random data key, base64 (16 bytes for SM4-GCM, 32 for AES-256-GCM)."""
    return base64.b64encode(os.urandom(16 if algorithm == "SM4-GCM" else 32)).decode("ascii")

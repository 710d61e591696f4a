"""The municipal registry (municipal information service center, reached through the municipal
information exchange platform), behind one adapter.

`get_registry().lookup(id_type, id_number)` returns a `RegistryEntry` or None, or raises
`RegistryUnavailable` when the registry cannot answer in time (REGISTRY_TIMEOUT_SECONDS). The
default backend reads the local table `RegistryRecord`, which the demo data fills; `HttpRegistry`
reads the exchange platform over HTTP (REGISTRY_URL); any other client implements the same
`lookup` and is named in the REGISTRY_BACKEND setting. Callers ask before taking a card's row lock:
an outage must never hold a card (cards.services.card_verify).
"""

from __future__ import annotations

import datetime
import json
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from applicants.identity import normalise_id_number


@dataclass(frozen=True)
class RegistryEntry:
    """A person's record as the registry holds it."""

    id_type: str
    id_number: str
    name: str
    sex: str
    birth_date: datetime.date | None
    nationality: str
    shanghai_hukou: bool
    hukou_place: str


# The fields a registration form is checked against (PRODUCT.md, "Applying": verification).
COMPARED_FIELDS = ("name", "sex", "birth_date", "nationality", "shanghai_hukou", "hukou_place")


@dataclass(frozen=True)
class FieldDifference:
    field: str
    form_value: Any
    registry_value: Any

    def as_dict(self) -> dict[str, str]:
        return {
            "field": self.field,
            "form": _display(self.form_value),
            "registry": _display(self.registry_value),
        }


class RegistryUnavailable(Exception):
    """The registry did not answer (down, too slow, or an answer that is not a record)."""


class RegistryBackend(Protocol):
    def lookup(
        self, id_type: str, id_number: str, issuing_country: str = ""
    ) -> RegistryEntry | None:
        """`issuing_country`: a passport's (two countries may issue the same number)."""


class LocalTableRegistry:
    """The default backend: the local `RegistryRecord` table."""

    def lookup(
        self, id_type: str, id_number: str, issuing_country: str = ""
    ) -> RegistryEntry | None:
        from applicants.models import RegistryRecord, id_number_index

        record = RegistryRecord.objects.filter(
            id_type=id_type, id_number_bidx=id_number_index(normalise_id_number(id_number))
        )
        if issuing_country:
            record = record.filter(id_issuing_country=issuing_country.strip().upper())
        record = record.first()
        if record is None:
            return None
        return RegistryEntry(
            id_type=record.id_type,
            id_number=record.id_number,
            name=record.name,
            sex=record.sex,
            birth_date=record.birth_date,
            nationality=record.nationality,
            shanghai_hukou=record.shanghai_hukou,
            hukou_place=record.hukou_place,
        )


class HttpRegistry:
    """The exchange platform over HTTP: GET {REGISTRY_URL}/persons/{id_type}/{id_number} answers
    the record as JSON (the fields of RegistryEntry, birth_date as YYYY-MM-DD), or 404."""

    def __init__(self, base_url: str | None = None, timeout: float | None = None) -> None:
        self.base_url = (base_url or settings.REGISTRY_URL).rstrip("/")
        self.timeout = timeout if timeout is not None else settings.REGISTRY_TIMEOUT

    def lookup(
        self, id_type: str, id_number: str, issuing_country: str = ""
    ) -> RegistryEntry | None:
        number = normalise_id_number(id_number)
        url = f"{self.base_url}/persons/{urllib.parse.quote(id_type)}/{urllib.parse.quote(number)}"
        if issuing_country:
            url += "?" + urllib.parse.urlencode({"issuing_country": issuing_country})
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:  # noqa: S310
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise RegistryUnavailable(f"registry answered {exc.code}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:  # timeouts are OSErrors
            raise RegistryUnavailable(type(exc).__name__) from exc
        try:
            birth = body.get("birth_date")
            return RegistryEntry(
                id_type=body["id_type"],
                id_number=body["id_number"],
                name=body["name"],
                sex=body.get("sex", ""),
                birth_date=datetime.date.fromisoformat(birth) if birth else None,
                nationality=body.get("nationality", ""),
                shanghai_hukou=bool(body.get("shanghai_hukou")),
                hukou_place=body.get("hukou_place", ""),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RegistryUnavailable("not a registry record") from exc


def get_registry() -> RegistryBackend:
    return import_string(settings.REGISTRY_BACKEND)()


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _normalise(value: Any) -> Any:
    """Compare text as a clerk would: full-width folded, spaces collapsed, case ignored."""
    if isinstance(value, str):
        return " ".join(unicodedata.normalize("NFKC", value).split()).casefold()
    return value


def compare_with_registry(form: Mapping[str, Any], entry: RegistryEntry) -> list[FieldDifference]:
    """The fields in which a form differs from the registry record, in a fixed order."""
    differences = []
    for name in COMPARED_FIELDS:
        if name not in form:
            continue
        form_value, registry_value = form[name], getattr(entry, name)
        if _normalise(form_value) != _normalise(registry_value):
            differences.append(FieldDifference(name, form_value, registry_value))
    return differences

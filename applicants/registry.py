"""The municipal registry (municipal information service center, reached through the municipal
information exchange platform), behind one adapter.

`get_registry().lookup(id_type, id_number)` returns a `RegistryEntry` or None. The default backend
reads the local table `RegistryRecord`, which the demo data fills; a real exchange-platform client
implements the same `lookup` and is named in the REGISTRY_BACKEND setting.
"""

from __future__ import annotations

import datetime
import unicodedata
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


class RegistryBackend(Protocol):
    def lookup(self, id_type: str, id_number: str) -> RegistryEntry | None: ...


class LocalTableRegistry:
    """The default backend: the local `RegistryRecord` table."""

    def lookup(self, id_type: str, id_number: str) -> RegistryEntry | None:
        from applicants.models import RegistryRecord

        record = RegistryRecord.objects.filter(
            id_type=id_type, id_number=normalise_id_number(id_number)
        ).first()
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

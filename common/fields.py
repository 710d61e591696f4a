"""Model fields for personal data at rest (common/crypto.py): an encrypted text field whose model
attribute holds the plaintext and whose column holds only the token, and the blind-index column
that serves its exact-match lookups and uniqueness.

An encrypted column cannot be compared in SQL (every token is different). `exact` and `in` on a
field that has a blind index compare the index column instead (`filter(id_number=n)` is
`id_number_bidx = <index of n>`: one probe of its index); any other lookup, or one on a field
without an index, raises, so that a forgotten filter fails loudly instead of finding nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldError
from django.db import models
from django.db.models import Lookup
from django.db.models.expressions import Col

from common import crypto


class EncryptedCharField(models.CharField):
    """A CharField stored encrypted (SM4-GCM or AES-256-GCM, key id per value). `max_length`
    bounds the plaintext (forms, validation); the column is `text`. The empty string is stored as
    such (it says only that the field is blank). `context` binds the tokens to what they are:
    columns that copy values between them in SQL share it (a card number in a card and in its
    card-center notice)."""

    def __init__(self, *args, context: str = "", **kwargs) -> None:
        self.context = context
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["context"] = self.context
        return name, path, args, kwargs

    def contribute_to_class(self, cls, name, *args, **kwargs) -> None:
        super().contribute_to_class(cls, name, *args, **kwargs)
        if not self.context:
            self.context = name

    def db_type(self, connection) -> str:
        return "text"

    def cast_db_type(self, connection) -> str:
        return "text"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return crypto.decrypt(value, context=self.context)

    def get_db_prep_value(self, value, connection, prepared=False):
        value = super().get_db_prep_value(value, connection, prepared)
        if value is None or value == "":
            return value
        return crypto.encrypt(str(value), context=self.context)

    def blind_index_field(self) -> BlindIndexField | None:
        for field in self.model._meta.concrete_fields:
            if isinstance(field, BlindIndexField) and field.source == self.name:
                return field
        return None

    def get_lookup(self, lookup_name: str):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        if lookup_name in _BLIND_LOOKUPS and self.blind_index_field() is not None:
            return _BLIND_LOOKUPS[lookup_name]
        raise FieldError(
            f"{self.model.__name__}.{self.name} is encrypted: it cannot be compared in SQL "
            f"({lookup_name}); only `exact` and `in`, and only through a blind index."
        )

    def get_transform(self, lookup_name: str):
        raise FieldError(f"{self.model.__name__}.{self.name} is encrypted: no {lookup_name}.")


class _BlindExact(Lookup):
    """`field=value` on an encrypted field: the blind-index column equals the value's index
    (one probe of that column's index), the same SQL as filtering on the index itself."""

    lookup_name = "exact"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        return "%s", [value]

    def as_sql(self, compiler, connection):
        index_field = self.lhs.output_field.blind_index_field()
        lhs_sql, lhs_params = compiler.compile(Col(self.lhs.alias, index_field))
        return f"{lhs_sql} = %s", [*lhs_params, self._index(index_field, self.rhs)]

    @staticmethod
    def _index(index_field, value):
        return index_field.index_of(str(value)) if value not in (None, "") else None


class _BlindIn(_BlindExact):
    lookup_name = "in"

    def as_sql(self, compiler, connection):
        index_field = self.lhs.output_field.blind_index_field()
        lhs_sql, lhs_params = compiler.compile(Col(self.lhs.alias, index_field))
        indexes = [self._index(index_field, value) for value in self.rhs] or [None]
        placeholders = ", ".join(["%s"] * len(indexes))
        return f"{lhs_sql} IN ({placeholders})", [*lhs_params, *indexes]


_BLIND_LOOKUPS = {"exact": _BlindExact, "in": _BlindIn}


class EncryptedTextField(EncryptedCharField):
    """An encrypted text of any length (an idempotent response's JSON)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.pop("max_length", None)
        super().__init__(*args, **kwargs)

    def check(self, **kwargs):
        return []  # no max_length to check

    def formfield(self, **kwargs):
        return models.TextField(self.verbose_name).formfield(**kwargs)


class BlindIndexField(models.BinaryField):
    """The keyed blind index (HMAC-SM3) of the normalised `source` field, kept in step on every
    save (and on bulk_create). `context` is the source's: equal values in two columns of the same
    context have equal indexes."""

    def __init__(self, *args, source: str = "", context: str = "", **kwargs) -> None:
        self.source = source
        self.context = context
        kwargs.setdefault("editable", False)
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        kwargs["context"] = self.context
        return name, path, args, kwargs

    def index_of(self, value: str | None) -> bytes | None:
        if value is None or value == "":
            return None
        return crypto.blind_index(value, context=self.context or self.source)

    def pre_save(self, model_instance, add):
        value = self.index_of(getattr(model_instance, self.source))
        setattr(model_instance, self.attname, value)
        return value

    def from_db_value(self, value, expression, connection):
        return bytes(value) if value is not None else None


class BlindIndexed(models.Model):
    """Keeps the blind indexes in step when a save names only some fields: saving `id_number`
    with update_fields saves its index too."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            extra = [
                field.name
                for field in self._meta.concrete_fields
                if isinstance(field, BlindIndexField) and field.source in set(update_fields)
            ]
            kwargs["update_fields"] = [*update_fields, *extra]
        super().save(*args, **kwargs)

    def refresh_blind_indexes(self) -> None:
        """Recompute the indexes from the current values (before validating uniqueness)."""
        for field in self._meta.concrete_fields:
            if isinstance(field, BlindIndexField):
                field.pre_save(self, add=False)

    @classmethod
    def blind_index(cls, field_name: str, value: str) -> bytes | None:
        """The blind index that `field_name` (the encrypted source) would store for `value`."""
        for field in cls._meta.concrete_fields:
            if isinstance(field, BlindIndexField) and field.source == field_name:
                return field.index_of(value)
        raise FieldError(f"{cls.__name__}.{field_name} has no blind index")


class SealedJSONField(models.JSONField):
    """A JSON document whose values under `sealed_keys` (at any depth) are stored encrypted
    (common.crypto.seal_values): the structure and every other value stay readable in SQL. The
    model attribute holds the opened document.

    `subject_keys` (a subset) are a person's values, sealed under that person's own data key
    (crypto-shredding, common/crypto.py), so that destroying the key erases them where the row
    itself may never change; `subject` is the path from the row to the person's id
    ("card.applicant_id"), followed only when the document holds such a value."""

    def __init__(
        self, *args, sealed_keys=(), subject_keys=(), subject: str = "", context: str = "", **kw
    ) -> None:
        self.sealed_keys = frozenset(sealed_keys)
        self.subject_keys = frozenset(subject_keys)
        self.subject = subject
        self.context = context
        super().__init__(*args, **kw)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["sealed_keys"] = sorted(self.sealed_keys)
        if self.subject_keys:
            kwargs["subject_keys"] = sorted(self.subject_keys)
            kwargs["subject"] = self.subject
        kwargs["context"] = self.context
        return name, path, args, kwargs

    def seal(self, document: Any, *, subject: int | None = None) -> Any:
        """The document as stored. A person's values need the person (`subject`): without one
        they would be sealed where no erasure reaches them, so that is an error."""
        if self.subject_keys:
            if subject is not None:
                document = crypto.seal_subject_values(
                    document, keys=self.subject_keys, context=self.context, subject=subject
                )
            elif crypto.has_values(document, self.subject_keys):
                raise ValueError(f"{self.name}: a person's values need the person to seal them")
        return crypto.seal_values(document, keys=self.sealed_keys, context=self.context)

    def open(self, document: Any) -> Any:
        return crypto.open_values(document, context=self.context)

    def subject_of(self, model_instance) -> int | None:
        value = model_instance
        for part in self.subject.split("."):
            value = getattr(value, part, None)
        return value

    def pre_save(self, model_instance, add):
        value = super().pre_save(model_instance, add)
        if self.subject_keys and crypto.has_values(value, self.subject_keys):
            value = crypto.seal_subject_values(
                value,
                keys=self.subject_keys,
                context=self.context,
                subject=self.subject_of(model_instance),
            )
        return value

    def get_db_prep_value(self, value, connection, prepared=False):
        if not hasattr(value, "as_sql"):
            value = self.seal(value)
        return super().get_db_prep_value(value, connection, prepared)

    def from_db_value(self, value, expression, connection):
        return self.open(super().from_db_value(value, expression, connection))

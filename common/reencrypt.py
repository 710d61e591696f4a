"""Re-encrypt the encrypted columns of a table in batches (`manage.py rotate_field_keys`, and the
migrations that encrypted the plaintext columns): every value sealed with the current key, every
blind index recomputed with the index key.

Set-based per batch: one keyset read of `batch_size` rows by primary key, the new values made in
Python (SM4 is not in PostgreSQL, nor in pgcrypto), one UPDATE ... FROM unnest(...) writing them
back. A row already under the current key is skipped, so a run that stopped resumes where it
was by running again (or from `after_id`). Discovers the columns from the models' fields
(common/fields.py), so common knows no app.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from common import crypto
from common.fields import BlindIndexField, EncryptedCharField, SealedJSONField


@dataclass
class TablePlan:
    """A table's encrypted columns: text tokens, blind indexes (of a source), sealed JSON."""

    table: str
    pk: str
    texts: list[tuple[str, str]] = field(default_factory=list)  # (column, context)
    indexes: list[tuple[str, str, str]] = field(default_factory=list)  # (column, source, context)
    documents: list[tuple[str, str, frozenset[str]]] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return [c for c, _ in self.texts] + [c for c, *_ in self.documents]


def plan_for(model) -> TablePlan | None:
    plan = TablePlan(model._meta.db_table, model._meta.pk.column)
    by_name = {f.name: f for f in model._meta.concrete_fields}
    for f in model._meta.concrete_fields:
        if isinstance(f, EncryptedCharField):
            plan.texts.append((f.column, f.context))
        elif isinstance(f, BlindIndexField):
            plan.indexes.append((f.column, by_name[f.source].column, f.context or f.source))
        elif isinstance(f, SealedJSONField):
            plan.documents.append((f.column, f.context, f.sealed_keys))
    return plan if plan.texts or plan.documents else None


def plans(models) -> list[TablePlan]:
    return [plan for model in models if (plan := plan_for(model)) is not None]


def _new_text(value, context: str, ring: crypto.Keyring, *, plaintext_ok: bool):
    """(plaintext, new stored value or None if it stays as it is)."""
    if value is None or value == "":
        return value, None
    if crypto.is_token(value):
        plaintext = crypto.decrypt(value, context=context, ring=ring)
        if crypto.token_key_id(value) == ring.current.kid:
            return plaintext, None
        return plaintext, crypto.encrypt(plaintext, context=context, ring=ring)
    if not plaintext_ok:
        raise crypto.DecryptionError("a plaintext value in an encrypted column")
    return value, crypto.encrypt(value, context=context, ring=ring)


def _new_document(value, context: str, keys: frozenset[str], ring: crypto.Keyring):
    """The document with every value under `keys` sealed under the current key (a plaintext one
    sealed, an older token re-sealed), as JSON text; None if it stays as it is. A person's own
    values (under their data key, or erased) are left as they are: their key is rotated by
    re-wrapping it (privacy.PersonDataKey is an encrypted column like any other)."""
    if value is None:
        return None
    document = json.loads(value) if isinstance(value, str) else value
    rotated, changed = _rotated(document, context, keys, ring)
    return json.dumps(rotated, ensure_ascii=False) if changed else None


def _rotated(node, context: str, keys: frozenset[str], ring: crypto.Keyring):
    if isinstance(node, dict):
        out, changed = {}, False
        for name, value in node.items():
            new, c = (
                _rotated_leaf(value, context, ring)
                if name in keys
                else _rotated(value, context, keys, ring)
            )
            out[name], changed = new, changed or c
        return out, changed
    if isinstance(node, list):
        pairs = [_rotated(item, context, keys, ring) for item in node]
        return [new for new, _ in pairs], any(c for _, c in pairs)
    return node, False


def _rotated_leaf(value, context: str, ring: crypto.Keyring):
    if value is None or value == "" or crypto.is_subject_value(value):
        return value, False
    if crypto.is_token(value):
        if crypto.token_key_id(value) == ring.current.kid:
            return value, False
        plaintext = crypto.decrypt(value, context=context, ring=ring)
        return crypto.encrypt(plaintext, context=context, ring=ring), True
    return crypto.encrypt(json.dumps(value, ensure_ascii=False), context=context, ring=ring), True


def reencrypt_table(
    cursor,
    plan: TablePlan,
    *,
    ring: crypto.Keyring,
    batch_size: int = 2000,
    after_id: int = 0,
    plaintext_ok: bool = False,
) -> int:
    """Bring every row of the table under the current key and index key, batch after batch in
    the caller's transaction; return the rows written. `plaintext_ok`: the columns may still hold
    plaintext (the migrations that encrypt them); otherwise a plaintext value is an error."""
    written, last = 0, after_id
    while True:
        last, n = reencrypt_batch(
            cursor, plan, ring=ring, batch_size=batch_size, after_id=last, plaintext_ok=plaintext_ok
        )
        written += n
        if last is None:
            return written


def reencrypt_batch(
    cursor,
    plan: TablePlan,
    *,
    ring: crypto.Keyring,
    batch_size: int,
    after_id: int,
    plaintext_ok: bool = False,
) -> tuple[int | None, int]:
    """One batch: the `batch_size` rows after `after_id`. Returns (the last id read, or None at
    the end of the table; the rows written)."""
    names = [plan.pk, *plan.columns, *(c for c, *_ in plan.indexes)]
    selected = ", ".join(f'"{c}"' for c in names)
    # A table of documents only (the log): its empty documents hold nothing to seal.
    non_empty = (
        " AND (" + " OR ".join(f"\"{c}\" <> '{{}}'::jsonb" for c, *_ in plan.documents) + ")"
        if plan.documents and not plan.texts and _is_postgresql(cursor)
        else ""
    )
    cursor.execute(
        f'SELECT {selected} FROM "{plan.table}" WHERE "{plan.pk}" > %s{non_empty} '  # noqa: S608
        f'ORDER BY "{plan.pk}" LIMIT %s',
        [after_id, batch_size],
    )
    rows = cursor.fetchall()
    if not rows:
        return None, 0
    changed: list[list] = []
    for row in rows:
        values = dict(zip(names, row, strict=True))
        plaintexts, new_row, dirty = {}, [values[plan.pk]], False
        for column, context in plan.texts:
            plaintext, new = _new_text(values[column], context, ring, plaintext_ok=plaintext_ok)
            plaintexts[column] = plaintext
            dirty |= new is not None
            new_row.append(new if new is not None else values[column])
        for column, context, keys in plan.documents:
            new = _new_document(values[column], context, keys, ring)
            dirty |= new is not None
            new_row.append(new if new is not None else _as_json(values[column]))
        for column, source, context in plan.indexes:
            plaintext = plaintexts[source]
            index = crypto.blind_index(plaintext, context=context, ring=ring) if plaintext else None
            old = bytes(values[column]) if values[column] is not None else None
            dirty |= index != old
            new_row.append(index)
        if dirty:
            changed.append(new_row)
    if changed:
        _write(cursor, plan, changed)
    return rows[-1][0], len(changed)


def _is_postgresql(cursor) -> bool:
    db = getattr(cursor, "db", None)  # a Django cursor; a bare psycopg one is PostgreSQL's
    return db is None or db.vendor == "postgresql"


def _as_json(value):
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _write(cursor, plan: TablePlan, rows: list[list]) -> None:
    names = [plan.pk, *plan.columns, *(c for c, *_ in plan.indexes)]
    types = (
        ["bigint"]
        + ["text"] * len(plan.texts)
        + ["jsonb"] * len(plan.documents)
        + ["bytea"] * len(plan.indexes)
    )
    if not _is_postgresql(cursor):  # SQLite (`make run`): row by row
        sets = ", ".join(f'"{n}" = %s' for n in names[1:])
        cursor.executemany(
            f'UPDATE "{plan.table}" SET {sets} WHERE "{plan.pk}" = %s',  # noqa: S608
            [[*row[1:], row[0]] for row in rows],
        )
        return
    columns = list(zip(*rows, strict=True))
    source = ", ".join(f"%s::{t}[]" for t in types)
    aliases = ", ".join(f'"{n}"' for n in names)
    sets = ", ".join(f'"{n}" = v."{n}"' for n in names[1:])
    cursor.execute(
        f'UPDATE "{plan.table}" AS t SET {sets} '  # noqa: S608 - names from the models' _meta
        f"FROM unnest({source}) AS v({aliases}) "
        f'WHERE t."{plan.pk}" = v."{plan.pk}"',
        [list(c) for c in columns],
    )


def encrypt_existing(*models: str):
    """A migration's RunPython: encrypt the plaintext rows of `models` ("app.Model") in place and
    fill their blind indexes, with the keys in force (no plaintext copy is left: the same
    columns are overwritten). Append-only tables have their triggers off for the pass (the
    migration runs as the owner)."""

    def forwards(apps, schema_editor) -> None:
        from django.conf import settings

        ring = crypto.keyring()
        append_only = set(getattr(settings, "DB_APPEND_ONLY_TABLES", []))
        if schema_editor.connection.vendor != "postgresql":
            append_only = set()  # the triggers are PostgreSQL's
        with schema_editor.connection.cursor() as cursor:
            for plan in plans(apps.get_model(name) for name in models):
                if plan.table in append_only:
                    cursor.execute(f'ALTER TABLE "{plan.table}" DISABLE TRIGGER USER')
                reencrypt_table(cursor, plan, ring=ring, batch_size=5000, plaintext_ok=True)
                if plan.table in append_only:
                    cursor.execute(f'ALTER TABLE "{plan.table}" ENABLE TRIGGER USER')

    return forwards

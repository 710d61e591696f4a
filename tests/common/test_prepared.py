"""common/prepared.py: the hot reads are parsed and planned once per connection, and still go
through Django's cursor wrapper (counted, with Django's errors)."""

import pytest
from django.db import IntegrityError, connection

from common.prepared import PreparedStatement

pytestmark = pytest.mark.django_db

SQL = "SELECT %s::int + 1, %s::text /* common.tests.prepared */"


def _prepared_here() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%common.tests.prepared%"],
        )
        return [row[0] for row in cursor.fetchall() if "pg_prepared_statements" not in row[0]]


def test_a_statement_used_often_is_prepared_once_on_the_connection():
    statement = PreparedStatement(SQL)
    assert statement.fetchone([1, "a"]) == (2, "a")
    for n in range(10):
        assert statement.fetchone([n, "b"]) == (n + 1, "b")
    assert len(_prepared_here()) == 1


def test_each_use_is_one_counted_query(django_assert_num_queries):
    statement = PreparedStatement(SQL)
    for n in range(8):
        with django_assert_num_queries(1):
            statement.fetchone([n, "x"])


def test_no_row_is_none():
    assert PreparedStatement("SELECT 1 WHERE %s::int = 0").fetchone([1]) is None


def test_database_errors_are_djangos():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE prepared_test (id int PRIMARY KEY)")
    statement = PreparedStatement("INSERT INTO prepared_test VALUES (%s) RETURNING id")
    assert statement.fetchone([1]) == (1,)
    with pytest.raises(IntegrityError):
        statement.fetchone([1])

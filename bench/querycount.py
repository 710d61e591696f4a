"""Counts the database queries of each request into an `X-Queries` response header, for
bench/admin_pages.py (on only when BENCH_COUNT_QUERIES is set: the other benchmarks measure
without it)."""

from django.db import connection


class QueryCountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        count = 0

        def counted(execute, sql, params, many, context):
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counted):
            response = self.get_response(request)
        response["X-Queries"] = str(count)
        return response

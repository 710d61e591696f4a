"""What the admin lists over city-sized tables share: a paginator that counts at most LIMIT rows,
and no search terms in URLs.


Django's changelist counts the filtered rows to draw its page links; over a point's whole history
or the city's 20 million cards that count would read every row. This one stops counting at
BOUNDED_COUNT_LIMIT (a read of at most that many index entries), and the list says "more than N".
Pages beyond the limit are not offered: a clerk narrows the list with its filters instead.
"""

from __future__ import annotations

import uuid

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpResponseRedirect
from django.utils.functional import cached_property

BOUNDED_COUNT_LIMIT = 1000
# Rows per page of a city-sized list: the rendering of its rows, not the database, is most of
# such a page's time once every read is an index range.
CITY_LIST_PAGE = 50


def bounded_count(queryset: QuerySet, limit: int = BOUNDED_COUNT_LIMIT) -> tuple[int, bool]:
    """How many rows, counting at most `limit`, and whether there are more: a count that reads at
    most limit + 1 index entries however many rows match (the lists' pages, the dashboard's)."""
    counted = queryset.order_by()[: limit + 1].count()
    return min(counted, limit), counted > limit


class BoundedPaginator(Paginator):
    limit = BOUNDED_COUNT_LIMIT

    @cached_property
    def count(self) -> int:
        counted, self.truncated = bounded_count(self.object_list, self.limit)
        return counted

    truncated = False


class NoSearchInUrl:
    """For a ModelAdmin whose search is posted: a `?q=` in a list's URL (a document number ends up
    in access logs and in every sort and filter link) is dropped by a redirect, never kept."""

    def changelist_view(self, request, extra_context=None):
        if "q" in request.GET:
            kept = request.GET.copy()
            del kept["q"]
            query = kept.urlencode()
            return HttpResponseRedirect(request.path + (f"?{query}" if query else ""))
        return super().changelist_view(request, extra_context)


class CityLogAdmin:
    """A log that grows with the city (transitions, reveals, deliveries): pages counted only up
    to BOUNDED_COUNT_LIMIT, no click-to-sort (each column would sort the whole table), newest
    first by the primary key."""

    paginator = BoundedPaginator
    show_full_result_count = False
    sortable_by = ()
    ordering = ("-id",)


POSTED_SEARCH_FIELD = "posted_q"


class ExactIdSearch:
    """For a log searched by one public id (a UUIDField with a unique index, named by
    `exact_id_field`): the term is that id exactly, one probe of its index. Django's own search
    casts the column to text and compares upper-cased or with LIKE, which no index serves: a scan
    of the whole log. A term that is no id finds nothing."""

    exact_id_field = ""

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(**{self.exact_id_field: uuid.UUID(term)}), False
        except ValueError:
            return queryset.none(), False


class PostedSearch(NoSearchInUrl):
    """For a ModelAdmin with `search_fields`: the search box posts its term, which the session keeps
    for this list (per model) until another is posted or it is cleared; the list's URLs, and so the
    access logs and the sort and filter links, never carry it."""

    change_list_template = "admin/posted_search_change_list.html"

    def _posted_search_key(self) -> str:
        return f"posted_search:{self.opts.label_lower}"

    def changelist_view(self, request, extra_context=None):
        if request.method == "POST" and POSTED_SEARCH_FIELD in request.POST:
            term = request.POST[POSTED_SEARCH_FIELD].strip()[:100]
            if term:
                request.session[self._posted_search_key()] = term
            else:
                request.session.pop(self._posted_search_key(), None)
            kept = request.GET.copy()
            kept.pop("q", None)
            kept.pop("p", None)  # a new search starts at its first page
            query = kept.urlencode()
            return HttpResponseRedirect(request.path + (f"?{query}" if query else ""))
        context = {
            "posted_search_term": request.session.get(self._posted_search_key(), ""),
            "posted_search_field": POSTED_SEARCH_FIELD,
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(
            request, queryset, request.session.get(self._posted_search_key(), "")
        )

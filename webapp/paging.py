"""The site's paginated lists: a project's stations, a station's sessions, jobs.

Each list is a fixed number of SQL statements whatever its length (a count and
one page of rows), read from the cached counters on the rows themselves.
"""

from flask_sqlalchemy.pagination import Pagination

from .extensions import db
from .models import MAX_DB_ID
from .numbers import parse_whole


def clean_page(value) -> int:
    """A page number from a query string; anything else is page 1."""
    if isinstance(value, int) and not isinstance(value, bool):
        return max(value, 1)
    return parse_whole(value, 1, MAX_DB_ID) or 1


class RowsPagination(Pagination):
    """Flask-SQLAlchemy's pagination of a select of several columns: items are row tuples.

    Built by `rows_page` with the total already counted (Flask-SQLAlchemy's
    `count=False`), because a caller often knows a cheaper count than a
    subquery of the rows; a page past the end reads no rows.
    """

    def _query_items(self) -> list[tuple]:
        if self._query_offset >= self._query_args["total"]:
            return []
        rows = self._query_args["rows"].limit(self.per_page).offset(self._query_offset)
        return [tuple(row) for row in db.session.execute(rows)]

    def _query_count(self) -> int:
        return self._query_args["total"]


def rows_page(rows, total: int, page: int, per_page: int) -> Pagination:
    """One page of `rows` (a select of columns) whose number is `total`: one statement."""
    result = RowsPagination(
        page=clean_page(page), per_page=per_page, max_per_page=None, error_out=False, count=False, rows=rows, total=total
    )
    result.total = total
    return result


def paginate(query, page, per_page: int, options=()) -> Pagination:
    """One page of `query` (a select) and the total count: two statements.

    Flask-SQLAlchemy's pagination, with a page past the end shown as the last
    page. `options` (eager loads) apply to the page's rows only.
    """
    page = clean_page(page)
    result = db.paginate(query.options(*options), page=page, per_page=per_page, error_out=False)
    if page > result.pages > 0:
        result = db.paginate(query.options(*options), page=result.pages, per_page=per_page, error_out=False)
    return result



"""Numbers from requests that must fit the database: ids in routes and query strings, and
page numbers. Out of range is a 404, never a database error."""

from __future__ import annotations

from flask import request
from werkzeug.routing import IntegerConverter

from .errors import NotFound

#: The largest id any table has (a 32-bit signed integer on every database).
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<int:...>`` in routes, bounded to what a database id can be: a larger number is
    a 404 instead of a database error."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def id_arg(values, name: str) -> int | None:
    """An id from a query string or form (``values``): a positive number a database can
    hold, else None."""
    raw = values.get(name, "")
    if not raw.isdigit() or len(raw) > 10:
        return None
    number = int(raw)
    return number if 0 < number <= MAX_ID else None


def page_arg(name: str = "page") -> int:
    """A page number from the query string (1 when absent); a page that cannot exist is
    ``NotFound`` (the 404 page) rather than a database error."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return 1
    if not raw.isdigit() or len(raw) > 6 or int(raw) < 1:
        raise NotFound()
    return int(raw)

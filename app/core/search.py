"""Case-insensitive substring search done by the database, the same on every backend.

The rule: a search text matches a column when the column, lower-cased, contains the search
text lower-cased, beyond ASCII ("åsa" finds "Åsa Öberg"); ``%`` and ``_`` in the search
text are literal. PostgreSQL lower-cases with ``lower()``. SQLite's own ``lower()`` knows
only ASCII, so every SQLite connection gets a Unicode one, ``kvarn_lower`` (registered by
``core.database`` on connect with ``install_sqlite_functions``). MariaDB compares the
lowered text byte for byte (``utf8mb4_bin``): its usual collation would also let "asa"
find "Åsa", which no other backend does.

Searching in the database keeps a page's work to its page: the rows are filtered where
they are read (through the index of whatever else the query filters on), and only the
matching page travels to Python.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

#: The name of the Unicode lower-casing function on SQLite connections.
SQLITE_LOWER = "kvarn_lower"


class lowered(FunctionElement):  # noqa: N801 - an SQL function, named like one
    """``lower(text)``, Unicode-aware on every backend (see the module docstring)."""

    type = sa.String()
    name = "lowered"
    inherit_cache = True


@compiles(lowered)
def _lower_default(element, compiler, **kw) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(lowered, "sqlite")
def _lower_sqlite(element, compiler, **kw) -> str:
    return f"{SQLITE_LOWER}({compiler.process(element.clauses, **kw)})"


@compiles(lowered, "mysql")
@compiles(lowered, "mariadb")
def _lower_mariadb(element, compiler, **kw) -> str:
    return f"(LOWER({compiler.process(element.clauses, **kw)}) COLLATE utf8mb4_bin)"


def contains(column, text: str) -> sa.ColumnElement[bool]:
    """``column`` contains ``text``, ignoring case (NULL never matches)."""
    return lowered(column).contains(text.lower(), autoescape=True)


def _sqlite_lower(value):
    return value.lower() if isinstance(value, str) else value


def install_sqlite_functions(dbapi_connection) -> None:
    """Give a new SQLite connection the functions ``lowered`` compiles to."""
    dbapi_connection.create_function(SQLITE_LOWER, 1, _sqlite_lower, deterministic=True)

"""The database's clock, for times that several hosts write and compare (a lease's expiry, a
job's "finished since"): hosts' clocks drift and jump, the database has one clock.

`db_time(seconds)` is an SQL expression, evaluated by the database when the statement runs:
PostgreSQL's `now()` (the transaction's start) plus an interval; on SQLite (one host, the file's
own) SQLite's clock, written in the text form SQLAlchemy stores SQLite datetimes in, so that
values it writes and values Python writes compare as they should.
"""

from __future__ import annotations

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Float, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class DbTime(FunctionElement):
    """The database's time, some seconds from now (negative: ago)."""

    type = DateTimeUTC(timezone=True)
    inherit_cache = True
    name = "db_time"


def db_time(seconds: float = 0.0) -> DbTime:
    return DbTime(literal(float(seconds), Float))


@compiles(DbTime)
def _postgresql(element: DbTime, compiler, **kw) -> str:
    return f"(now() + make_interval(secs => {compiler.process(element.clauses, **kw)}))"


@compiles(DbTime, "sqlite")
def _sqlite(element: DbTime, compiler, **kw) -> str:
    # "%f" is seconds with milliseconds; "000" pads them to the microseconds SQLAlchemy writes
    seconds = compiler.process(element.clauses, **kw)
    return f"strftime('%Y-%m-%d %H:%M:%f000', 'now', printf('%+.3f seconds', {seconds}))"

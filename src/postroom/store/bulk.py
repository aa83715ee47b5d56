"""Set-based writes and lookups for a batch of messages, without SQLAlchemy's per-row work.

A sync batch writes thousands of rows (messages, participants, keys, activities, locations)
and looks up hundreds of keys. Handed to ``session.execute(insert(...), dicts)``, each row
costs SQLAlchemy a parameter dict built and processed in Python; ``column.in_(keys)`` costs
a bound parameter rendered and processed per key. On the sync's worker thread that work holds
the GIL. Here it is done once per statement:

* ``insert_rows``: ``INSERT ... ON CONFLICT DO NOTHING`` compiled once per dialect, table and
  column list; only the columns whose type converts values (timestamps, enums, JSON) are
  converted, enums and JSON once per object, SQLite timestamps by ``isoformat`` (the very
  text of SQLAlchemy's DATETIME, checked). SQLite gets the tuples through ``executemany``
  (sqlite3 loops in C). PostgreSQL gets one statement, ``INSERT ... SELECT * FROM
  unnest(<one array a column>)``, its arrays sent in binary: psycopg's ``executemany`` does
  Python work per row, and a multi-row ``VALUES`` has it parse a long query every time. The
  rows, their order, the columns' casts and the conflict rule are those of SQLAlchemy's own
  statement, so the stored result is the same.
* ``in_parameter``: ``column IN (<keys>)`` with the keys as one bound value: a JSON array read
  with ``json_each`` on SQLite, an array with ``= ANY(...)`` on PostgreSQL. No chunks are
  needed (one parameter, whatever the number of keys), both use the column's index, and the
  statement is built once per dialect (building one costs more than running it).
"""

from __future__ import annotations

import functools
import json
import re
import weakref
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, Boolean, DateTime, Enum, Table, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.schema import CallableColumnDefault, ScalarElementColumnDefault
from sqlalchemy.types import String, TypeDecorator, TypeEngine

from postroom.store.db import insert_ignoring_for, table_of


def insert_rows(
    session: Session,
    table: Table | type[DeclarativeBase],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> int:
    """``INSERT ... ON CONFLICT DO NOTHING`` of ``rows`` (a tuple a row, its values in
    ``columns`` order, of the model's Python types); return how many rows were inserted, or
    -1 when the driver cannot count them.

    A column left out gets its Python-side default (``created_at``: now), evaluated once for
    the statement; a column left out whose default is SQL is refused.
    """
    if not rows:
        return 0
    connection = session.connection()
    dialect = connection.dialect
    plan = _plan(dialect, table_of(table), tuple(columns))
    if plan.as_given:
        result = connection.exec_driver_sql(plan.sql, list(rows))
        return _rowcount(result.rowcount, len(rows), dialect)
    values = [list(column) for column in zip(*rows, strict=True)]
    for index, process, by_identity in plan.processors:
        values[index] = _convert(values[index], process, by_identity)
    values += [[default] * len(rows) for default in plan.defaults()]
    if plan.columnar:
        arrays = tuple(values[i] for i in plan.order)
        return int(connection.exec_driver_sql(plan.sql, arrays).rowcount)
    parameters: list[Any]
    if plan.names is None:
        parameters = list(zip(*(values[i] for i in plan.order), strict=True))
    else:
        names = plan.names
        parameters = [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
    result = connection.exec_driver_sql(plan.sql, parameters)
    return _rowcount(result.rowcount, len(parameters), dialect)


def _rowcount(rowcount: int, rows: int, dialect: Dialect) -> int:
    return -1 if rows > 1 and not dialect.supports_sane_multi_rowcount else int(rowcount)


def in_parameter(dialect: str, column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """``column IN (...)`` over the values of parameter ``name`` (``list_parameter``): build
    the statement once per dialect (``dialect_of``), then execute it with new values."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    values = func.json_each(bindparam(name, type_=String))
    return column.in_(select(values.table_valued("value").c.value))


def list_parameter(session: Session, values: Iterable[Any]) -> Any:
    """The value of an ``in_parameter``: strings or integers, as one bound value."""
    if dialect_of(session) == "postgresql":
        return list(values)
    return json.dumps(list(values))


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    order: tuple[int, ...]
    """The index of each positional parameter's values (given columns, then defaulted ones)."""
    names: tuple[str, ...] | None
    """The parameter names, in the order of the values, when the driver's are named."""
    processors: tuple[tuple[int, Callable[[Any], Any], bool], ...]
    """``(index of a given column, its bind processor, by identity)``: enum and JSON values
    repeat, and are converted once per object (not by value: JSON is not hashable)."""
    defaults: Callable[[], list[Any]]
    """The converted defaults of the columns left out, for one statement."""
    columnar: bool = False
    """One array a column (PostgreSQL's ``unnest``), not one tuple a row."""
    as_given: bool = False
    """The rows go to the driver as they are: nothing to convert, add or reorder."""


_PLANS: weakref.WeakKeyDictionary[Dialect, dict[tuple[Table, tuple[str, ...]], _Plan]] = (
    weakref.WeakKeyDictionary()
)


def _plan(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> _Plan:
    plans = _PLANS.setdefault(dialect, {})
    plan = plans.get((table, columns))
    if plan is None:
        plan = plans[(table, columns)] = _compile(dialect, table, columns)
    return plan


def _compile(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> _Plan:
    defaulted: list[tuple[str, Callable[[], Any]]] = []
    for column in table.columns:
        default = column.default
        if column.name in columns or default is None:
            continue
        if isinstance(default, ScalarElementColumnDefault):
            defaulted.append((column.name, functools.partial(_same, default.arg)))
        elif isinstance(default, CallableColumnDefault):
            # SQLAlchemy wraps a callable of no argument (ours: utcnow, list, dict) into one
            # that takes the execution context and ignores it
            defaulted.append((column.name, functools.partial(default.arg, cast(Any, None))))
        else:
            raise ValueError(f"{table.name}.{column.name} has an SQL default: give its value")
    names = [*columns, *(name for name, _ in defaulted)]
    statement = insert_ignoring_for(dialect, table).values(
        {name: bindparam(name, type_=table.c[name].type) for name in names}
    )
    compiled = statement.compile(dialect=dialect, for_executemany=True)  # no RETURNING id
    sql = str(compiled)
    escaped: dict[str, str] = dict(compiled.escaped_bind_names or {})
    unescaped = {v: k for k, v in escaped.items()}
    unnest = None
    if dialect.name == "postgresql" and dialect.driver == "psycopg":  # %b: psycopg 3's binary
        booleans = {n for n in names if isinstance(table.c[n].type, Boolean)}
        unnest = _unnest(sql, unescaped, booleans)
    if unnest is not None and sorted(unnest[1]) != sorted(names):
        unnest = None  # not the expected shape: row by row, as SQLAlchemy would

    processors: list[tuple[int, Callable[[Any], Any], bool]] = []
    for index, name in enumerate(names):
        column_type = table.c[name].type
        is_json = isinstance(column_type, JSON)
        process: Callable[[Any], Any] | None
        if unnest is not None and is_json:
            # the text SQLAlchemy's psycopg Json wrapper sends (the engine sets no serializer)
            process = json.dumps
        else:
            process = _iso_timestamps(column_type, dialect)
            if process is None:
                process = column_type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((index, process, is_json or isinstance(column_type, Enum)))
    given = tuple(p for p in processors if p[0] < len(columns))
    of_defaults = {index - len(columns): process for index, process, _ in processors}

    def defaults() -> list[Any]:
        result = []
        for offset, (_, make) in enumerate(defaulted):
            value = make()
            process = of_defaults.get(offset)
            result.append(value if process is None else process(value))
        return result

    if unnest is not None:
        order = tuple(names.index(name) for name in unnest[1])
        return _Plan(unnest[0], order, None, given, defaults, columnar=True)
    if compiled.positional:
        order = tuple(names.index(unescaped.get(b, b)) for b in compiled.positiontup or ())
        as_given = not (given or defaulted) and order == tuple(range(len(names)))
        return _Plan(sql, order, None, given, defaults, as_given=as_given)
    bind_names = tuple(escaped.get(n, n) for n in names)
    return _Plan(sql, tuple(range(len(names))), bind_names, given, defaults)


_PROBES = (datetime(2025, 3, 3, 10, 7, 5, 120), datetime(987, 1, 2), datetime(9999, 12, 31))


def _iso_timestamps(column_type: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """For a timestamp type decorated on top of SQLite's DATETIME (``UtcDateTime``): its own
    ``process_bind_param``, then ``isoformat`` instead of SQLAlchemy's dict formatting, when
    the two give the same text (the default storage format); else None."""
    if dialect.name != "sqlite" or not isinstance(column_type, TypeDecorator):
        return None
    impl = column_type.impl_instance
    if not isinstance(impl, DateTime):
        return None
    text = impl.dialect_impl(dialect).bind_processor(dialect)
    if text is None or any(text(p) != p.isoformat(" ", "microseconds") for p in _PROBES):
        return None
    decorate = column_type.process_bind_param

    def process(value: Any) -> Any:
        value = decorate(value, dialect)
        if type(value) is datetime and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return text(value)

    return process


_BOUND = re.compile(r"%\(([^)]+)\)s(?:::(.+))?")


def _unnest(
    sql: str,
    unescaped: dict[str, str],
    booleans: Collection[str] = (),
) -> tuple[str, list[str]] | None:
    """``INSERT INTO t (a, b) VALUES (%(a)s::INTEGER, %(b)s) ON CONFLICT DO NOTHING`` as
    ``INSERT INTO t (a, b) SELECT * FROM unnest(%b::INTEGER[], %b::TEXT[]) ON CONFLICT ...``
    (each parameter an array, sent in binary), and the column names in that order; None
    when the statement has another shape. A parameter SQLAlchemy gave no cast is sent as
    ``TEXT[]`` (PostgreSQL turns text into the column's type as it stores it), but for the
    ``booleans``: text is never stored into a boolean column, so theirs is ``BOOLEAN[]``."""
    head, values, rest = sql.partition(" VALUES (")
    group, on_conflict, tail = rest.rpartition(") ON CONFLICT ")
    if not (values and on_conflict) or "%" in head + tail:
        return None
    arrays: list[str] = []
    bound: list[str] = []
    for item in re.split(r", (?=%\()", group):
        match = _BOUND.fullmatch(item)
        if match is None:
            return None
        name = unescaped.get(match[1], match[1])
        bound.append(name)
        arrays.append(f"%b::{match[2] or ('BOOLEAN' if name in booleans else 'TEXT')}[]")
    unnest = f"{head} SELECT * FROM unnest({', '.join(arrays)}) ON CONFLICT {tail}"
    return unnest, bound


def _convert(values: list[Any], process: Callable[[Any], Any], by_identity: bool) -> list[Any]:
    """``[process(v) for v in values]``; with ``by_identity``, once per object (an enum
    member, the same JSON list in every row)."""
    if not by_identity:
        null = process(None) if None in values else None  # many columns are mostly NULL
        return [null if v is None else process(v) for v in values]
    ids = list(map(id, values))
    distinct = dict(zip(ids, values, strict=True))
    converted = {key: process(value) for key, value in distinct.items()}
    return list(map(converted.__getitem__, ids))


def _same(value: Any) -> Any:
    return value

"""Benchmark: server time of the record page and of full-text search on a big firm's data.

    .venv/bin/python -m benchmarks.web [--backend sqlite|postgresql|both]
        [--activities 200000] [--records 20000] [--heavy 10000] [--requests 200] [--warmup 20]

A fresh database per backend (SQLite: a file in a temp folder; PostgreSQL: the server the
tests use, found as tests/support/postgres.py finds it, in a new database) gets, by bulk
inserts (``store.bulk.insert_rows``; the full-text index is kept by its triggers / generated
column as in production):

* ``--records`` records over 2,000 companies (names with accents, ``search_text`` folded);
* ``--activities`` activities, ``--heavy`` of them on one record, the rest spread over the
  others: subjects of 3-8 words and texts of 40-160 words drawn (Zipf-like) from a small
  recruiting vocabulary with accented words (café, Zürich, résumé, ...), half of them sent.

Then ``ANALYZE`` (what autovacuum / an ``optimize`` would do on a live database), and each
page is requested ``--requests`` times after ``--warmup`` through Starlette's TestClient
against the real app (signed in, the whole middleware stack), alternating with a bare route
on the same app that returns a fixed page (the baseline: framework and middleware only).
Server time is measured in-process by an ASGI wrapper around the app, from the request's
arrival to the last byte of its answer (the client's own overhead is left out).

Pages measured:

* record: ``GET /records/{id}`` of the record with ``--heavy`` activities (its first page);
* search, ranked: ``café montréal``, typed with accents, two words found together in about
  1.3 % of the activities: ranked (bm25 / ts_rank, then newest), with people, companies and
  snippets;
* search, prefix: ``apprai`` (appraisal, ...), about 4 % of the activities: more than
  ``services.search.RANKED_AT_MOST`` (5,000), so newest first over ``ix_activity_occurred_at``;
* search, very common: ``regards``, in 60 % of the activities: newest first too.

Targets: record page p95 <= 50 ms; search p95 <= 150 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, text
from starlette.responses import HTMLResponse
from tests.support.postgres import create_database, find_or_start_postgres
from tests.support.web import add_user, make_runtime, sign_in

from postroom.domain.matching import Direction
from postroom.domain.records import fold_for_search
from postroom.services.search import RANKED_AT_MOST
from postroom.store.bulk import insert_rows
from postroom.store.db import create_db_engine, make_session_factory, upgrade
from postroom.store.models import (
    Activity,
    ActivityKind,
    BodyState,
    Company,
    Person,
    PersonEmail,
    PersonKind,
)
from postroom.web.app import create_app

TARGETS = {"record": 50.0, "search": 150.0}

FIRST = "Anna Ben Chloé Dániel Émile Farah Gustav Hélène Ines Jonas Katarzyna Léa Marco Nadia "
FIRST += "Oğuz Pilar Quentin Rosa Søren Tomás Ursula Valentín Wanda Xavier Yusuf Zoë"
LAST = "Berg Costa Dubois Eriksson Fernández García Horváth Ivanova Jensen Kowalski Lefèvre "
LAST += "Müller Novák Olsen Pérez Quispe Rossi Schäfer Thompson Uçar Varga Wójcik Yılmaz Ziegler"
CITIES = ["Zürich", "München", "Kraków", "Málaga", "Göteborg", "São Paulo", "Montréal", "Lyon"]


def _words(text: str) -> list[str]:
    return text.split()


COMMON = _words(
    "the to and of a you we for in is on with this that be your at as are our from have "
    "will can it please thanks regards hi best would about next week call time"
)
DOMAIN = _words(
    "role candidate offer interview interviews interviewer salary contract start date team "
    "manager senior engineer engineering developer designer barista café résumé CV "
    "references notice period relocation visa package bonus equity remote hybrid office "
    "onsite schedule feedback shortlist client brief vacancy position hiring process "
    "technical assessment portfolio availability negotiation counter-offer benefits "
    "pension holiday probation appraisal naïve coöperate façade début rôle entrevue "
    "Gehalt Vertrag Lebenslauf sueldo contrato candidatura"
)
SUFFIXES = ["Café", "Consulting", "Labs", "GmbH", "SA", "Ltd"]


def _weights(words: list[str]) -> list[float]:
    return [1.0 / (rank + 1) ** 0.9 for rank in range(len(words))]


class Timed:
    """An ASGI wrapper that records each request's server time (ms), arrival to last byte."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.times: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def timed_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.times.append((time.perf_counter() - start) * 1000)

        await self.app(scope, receive, timed_send)


# --- data -----------------------------------------------------------------------------------


def _initial(text: str) -> str:
    return text[:1].upper() + text[1:]


class Writer:
    """Subjects and texts: mostly common words (Zipf-like), one or two words of the trade a
    sentence, now and then a city, greetings and signatures with people's names."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.common_weights = _weights(COMMON)
        self.domain_weights = [1.0 / (rank + 1) ** 1.1 for rank in range(len(DOMAIN))]
        self.firsts, self.lasts = _words(FIRST), _words(LAST)

    def sentence(self) -> str:
        rng = self.rng
        words = rng.choices(COMMON, self.common_weights, k=rng.randint(6, 12))
        for _ in range(rng.randint(1, 2)):
            words.insert(rng.randrange(len(words) + 1), self._domain())
        if rng.random() < 0.1:
            words.insert(rng.randrange(len(words) + 1), rng.choice(CITIES))
        return _initial(" ".join(words)) + "."

    def _domain(self) -> str:
        return self.rng.choices(DOMAIN, self.domain_weights)[0]

    def subject(self) -> str:
        rng = self.rng
        words = [self._domain() for _ in range(rng.randint(2, 5))]
        if rng.random() < 0.3:
            words.append(rng.choice(CITIES))
        return rng.choice(["", "Re: ", "Fwd: "]) + _initial(" ".join(words))

    def text(self) -> str:
        rng = self.rng
        body = " ".join(self.sentence() for _ in range(rng.randint(3, 9)))
        return (
            f"Dear {rng.choice(self.firsts)},\n\n{body}\n\n"
            f"{rng.choice(['Best', 'Regards', 'Thanks'])},\n"
            f"{rng.choice(self.firsts)} {rng.choice(self.lasts)}"
        )


def _chunks(total: int, size: int) -> Iterator[range]:
    for start in range(0, total, size):
        yield range(start, min(total, start + size))


def _insert(session: Any, model: Any, columns: tuple[str, ...], rows: list[Any]) -> None:
    session.execute(insert(model), [dict(zip(columns, row, strict=True)) for row in rows])


def load(engine: Engine, *, records: int, activities: int, heavy: int, seed: int = 7) -> int:
    """Fill the database; return the id of the record with ``heavy`` activities."""
    rng = random.Random(seed)
    sessions = make_session_factory(engine)
    firsts, lasts = FIRST.split(), LAST.split()
    now = datetime(2026, 12, 1, tzinfo=UTC)
    companies = 2000
    with sessions.begin() as session:
        rows = []
        for n in range(1, companies + 1):
            name = f"{rng.choice(lasts)} {rng.choice(SUFFIXES)} {n}"
            rows.append((n, name, name.casefold(), f"c{n}.example", now, now))
        _insert(
            session, Company, ("id", "name", "name_key", "domain", "created_at", "updated_at"), rows
        )
    with sessions.begin() as session:
        people, emails = [], []
        for n in range(1, records + 1):
            name = f"{rng.choice(firsts)} {rng.choice(lasts)}"
            company = rng.randrange(1, companies + 1) if rng.random() < 0.7 else None
            address = f"{fold_for_search(name).replace(' ', '.')}.{n}@mail{n % 50}.example"
            kind = PersonKind.CONTACT if n % 5 == 0 else PersonKind.CANDIDATE
            search = fold_for_search(f"{name} {address}")
            people.append((n, kind, name, name.casefold(), company, [], search, now, now))
            emails.append((n, n, address, address, True))
        _insert(
            session,
            Person,
            (
                "id",
                "kind",
                "name",
                "name_key",
                "company_id",
                "links",
                "search_text",
                "created_at",
                "updated_at",
            ),
            people,
        )
        _insert(
            session,
            PersonEmail,
            ("id", "person_id", "address", "address_key", "is_primary"),
            emails,
        )
    writer = Writer(rng)
    # activities: the heavy record first, then the rest spread over the other records
    columns = (
        "id",
        "person_id",
        "fingerprint",
        "kind",
        "direction",
        "occurred_at",
        "subject",
        "participants",
        "body_state",
        "text",
        "reply_text",
        "attachments",
        "created_at",
    )
    for chunk in _chunks(activities, 10_000):
        batch = []
        for n in chunk:
            person = 1 if n < heavy else 2 + (n % (records - 1))
            subject, body = writer.subject(), writer.text()
            sent = n % 2 == 0
            batch.append(
                (
                    n + 1,
                    person,
                    f"f:{n:016x}",
                    ActivityKind.EMAIL,
                    Direction.SENT if sent else Direction.RECEIVED,
                    now - timedelta(minutes=37 * n),
                    subject,
                    {"from": [["", "a@firm.example" if sent else "b@mail.example"]]},
                    BodyState.PRESENT,
                    body,
                    body,
                    [],
                    now,
                )
            )
        with sessions.begin() as session:
            insert_rows(session, Activity, columns, batch)
        print(f"  {chunk.stop:,} activities", end="\r", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            for table in ("company", "person", "person_email", "activity"):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
            connection.commit()
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE")
            )
        else:
            connection.execute(text("ANALYZE"))
            connection.commit()
    return 1


# --- measuring ------------------------------------------------------------------------------


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(
    client: TestClient, timed: Timed, url: str, *, requests: int, warmup: int
) -> tuple[list[float], list[float]]:
    """Server times (ms) of ``url`` and of the baseline, requested in turn."""
    page_times: list[float] = []
    base_times: list[float] = []
    for n in range(warmup + requests):
        for target, into in ((url, page_times), ("/bench/baseline", base_times)):
            timed.times.clear()
            response = client.get(target)
            if response.status_code != 200:
                raise RuntimeError(f"{target} answered {response.status_code}")
            if n >= warmup:
                into.append(timed.times[-1])
    return page_times, base_times


def run(backend: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.keep:
        folder = Path(args.keep)
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="postroom-bench-web-"))
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'postroom.db'}"
        fresh = not (folder / "postroom.db").exists()
    else:
        server = find_or_start_postgres()
        name = "postroom_bench_web_kept" if args.keep else f"postroom_bench_web_{os.getpid()}"
        fresh = not args.keep or not _database_exists(server, name)
        url = create_database(server, name) if fresh else server.rpartition("/")[0] + "/" + name
    engine = create_db_engine(url)
    heavy_id = 1
    if fresh:
        upgrade(engine)
        started = time.perf_counter()
        heavy_id = load(engine, records=args.records, activities=args.activities, heavy=args.heavy)
        print(f"{backend}: loaded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    else:
        print(f"{backend}: reusing {url}", file=sys.stderr)
    runtime = make_runtime(engine, folder / "home")
    if fresh:
        add_user(runtime, "ada@firm.example", admin=True, name="Ada")
    app = create_app(runtime)

    @app.get("/bench/baseline", include_in_schema=False)
    def baseline() -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>fixed</title><p>A fixed page.</p>")

    timed = Timed(app)
    with engine.connect() as connection:
        matches: Callable[[str], int] = lambda q: _count(connection, backend, q)  # noqa: E731
        pages = [
            ("record", f"/records/{heavy_id}", f"{args.heavy:,} activities"),
            ("search", "/search?q=café+montréal", _how(matches("café montréal"))),
            ("search", "/search?q=apprai", _how(matches("apprai"))),
            ("search", "/search?q=regards", _how(matches("regards"))),
        ]
    results = []
    load_before = os.getloadavg()[0]
    with TestClient(timed, base_url="http://testserver") as client:
        sign_in(client, "ada@firm.example")
        for kind, path, note in pages:
            times, base = measure(client, timed, path, requests=args.requests, warmup=args.warmup)
            results.append(
                {
                    "backend": backend,
                    "kind": kind,
                    "path": path,
                    "note": note,
                    "p50": _percentile(times, 0.5),
                    "p95": _percentile(times, 0.95),
                    "base50": _percentile(base, 0.5),
                    "base95": _percentile(base, 0.95),
                    "mean": statistics.fmean(times),
                }
            )
    load_after = os.getloadavg()[0]
    print(
        f"{backend}: load average {load_before:.1f} before, {load_after:.1f} after "
        f"({os.cpu_count()} cores): other work on the machine shows in the baseline too",
        file=sys.stderr,
    )
    engine.dispose()
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
        if backend == "postgresql":
            _drop_database(server, name)
    return results


def _database_exists(server: str, name: str) -> bool:
    import psycopg

    with psycopg.connect(server) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return found.fetchone() is not None


def _how(count: int) -> str:
    """``2,676 ranked``: how many match, and whether the page ranks them or shows the newest."""
    return f"{count:,} {'ranked' if count <= RANKED_AT_MOST else 'newest'}"


def _drop_database(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _count(connection: Any, backend: str, query: str) -> int:
    from postroom.store.search import fts5_match, parse_query, tsquery

    terms = parse_query(query)
    if backend == "sqlite":
        sql = "SELECT count(*) FROM activity_fts WHERE activity_fts MATCH :q"
        return int(connection.execute(text(sql), {"q": fts5_match(terms)}).scalar_one())
    sql = "SELECT count(*) FROM activity WHERE search_vector @@ to_tsquery('simple', :q)"
    return int(connection.execute(text(sql), {"q": tsquery(terms)}).scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--activities", type=int, default=200_000)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--heavy", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument(
        "--keep",
        metavar="DIR",
        help="keep the databases (SQLite in DIR, PostgreSQL as postroom_bench_web_kept) and "
        "reuse them when run again with the same option (data options then ignored)",
    )
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    rows = [row for backend in backends for row in run(backend, args)]
    print(
        f"\n{args.activities:,} activities over {args.records:,} records; "
        f"{args.requests} requests each after {args.warmup} warm-up; server time in ms\n"
    )
    header = (
        f"{'backend':<11}{'page':<31}{'data':<19}{'p50':>7}{'p95':>7}"
        f"{'base p50':>10}{'base p95':>10}{'p95/base':>10}{'target':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        target = TARGETS[r["kind"]]
        verdict = "ok" if r["p95"] <= target else "OVER"
        print(
            f"{r['backend']:<11}{r['path']:<31}{r['note']:<19}{r['p50']:>7.1f}{r['p95']:>7.1f}"
            f"{r['base50']:>10.2f}{r['base95']:>10.2f}{r['p95'] / r['base95']:>9.0f}x"
            f"{f'{target:.0f} {verdict}':>9}"
        )


if __name__ == "__main__":
    main()

"""Uncached wall renders: one indexed query per page, whatever its size, templates compiled
once, and fifty at once all answered."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter

import jinja2
import pytest
from litestar.testing import AsyncTestClient
from photowall import wall as wall_module
from photowall.wall import wall_query
from sqlalchemy import Select, TextClause, bindparam, event, insert, text
from sqlalchemy.dialects import postgresql, sqlite
from uuid_utils import uuid7

from core.store.db import Database
from core.store.models import Portrait
from tests.site.seed import seed_portraits

IDS = re.compile(r'data-id="([0-9a-f-]{36})"')
ROWS = 3000


def explain(statement: Select, dialect_name: str) -> TextClause:
    """`EXPLAIN` (PostgreSQL) or `EXPLAIN QUERY PLAN` (SQLite) of `statement`, its binds
    typed as in the statement (so they reach the database as the real query sends them)."""
    dialects = {"sqlite": sqlite.dialect, "postgresql": postgresql.dialect}
    compiled = statement.compile(dialect=dialects[dialect_name](paramstyle="named"))
    prefix = "EXPLAIN QUERY PLAN " if dialect_name == "sqlite" else "EXPLAIN "
    binds = [bindparam(n, compiled.params[n], type_=b.type) for b, n in compiled.bind_names.items()]
    sql = str(compiled).replace("::", " ::")  # `:id_1::UUID` would hide the name from text()
    return text(prefix + sql).bindparams(*binds)


async def _plans(url: str) -> list[str]:
    """The plans of a first page, a later page and a search, on ROWS portraits of which a
    twentieth are curated (the planner sees real statistics: ANALYZE first)."""
    db = Database(url)
    try:
        async with db.session() as session:
            await session.execute(insert(Portrait), [_row(i) for i in range(ROWS)])
        async with db.session() as session:
            await session.execute(text("ANALYZE"))
        plans = []
        cursor = str(uuid.UUID(str(uuid7())))
        for statement in (wall_query(None, None), wall_query(cursor, None)):
            async with db.session() as session:
                rows = (await session.execute(explain(statement, db.engine.dialect.name))).all()
            plans.append("\n".join(str(row[-1]) for row in rows))
        return plans
    finally:
        await db.dispose()


def _row(index: int) -> dict:
    return {
        "id": uuid.UUID(str(uuid7())),
        "idea": "byzantine emperor",
        "status": "done" if index % 5 else "failed",
        "curated": index % 20 == 0,  # as on a real wall: most portraits are private
        "hidden": index % 7 == 0,
        "shared": True,
        "origin": "bot" if index % 2 else "web",
        "prompt": "",
        "media": {},
    }


def test_the_page_query_reads_the_wall_index_not_the_table(database_url) -> None:
    for plan in asyncio.run(_plans(database_url)):
        assert "ix_portrait_wall" in plan, plan
        # SQLite: "SCAN portrait" is a full scan, "TEMP B-TREE" a sort; PostgreSQL: Seq Scan, Sort.
        for bad in ("SCAN portrait", "TEMP B-TREE", "Seq Scan", "Sort"):
            assert bad not in plan, plan


def _count_queries(site) -> list[str]:
    statements: list[str] = []
    engine = site.http.app.state.services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    return statements


@pytest.mark.parametrize("page_size", [3, 12, 30])
def test_an_uncached_render_is_one_query_whatever_the_page_size(
    site, monkeypatch, page_size
) -> None:
    site.run(lambda db, media: seed_portraits(db, media, 31))
    monkeypatch.setattr(wall_module, "PAGE_SIZE", page_size)
    statements = _count_queries(site)
    never_issued = "ffffffff-ffff-7fff-bfff-ffffffffffff"  # rendered, never kept
    for _ in range(2):
        page = site.http.get(f"/?cursor={never_issued}", headers={"HX-Request": "true"})
        assert len(IDS.findall(page.text)) == page_size
    searched = site.http.get("/?q=emperor")
    assert len(IDS.findall(searched.text)) == min(page_size, 5)
    assert len(statements) == 3, statements  # one per render: no N+1, no session lookups


def test_templates_are_compiled_once(site, monkeypatch) -> None:
    site.run(lambda db, media: seed_portraits(db, media, 14))
    compiled: Counter[str] = Counter()
    original = jinja2.Environment.compile

    def counting(self, source, name=None, filename=None, *args, **kwargs):
        compiled[name] += 1
        return original(self, source, name, filename, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    for number in range(10):
        cursor = f"ffffffff-ffff-7fff-bfff-{number:012d}"  # a new, uncached render each time
        assert site.http.get(f"/?cursor={cursor}").status_code == 200
        assert site.http.get(f"/?cursor={cursor}", headers={"HX-Request": "true"}).status_code
    assert compiled and set(compiled.values()) == {1}, compiled
    assert site.http.app.template_engine.engine.auto_reload is False  # no stat() per render


def test_fifty_uncached_renders_at_once_are_all_answered(site) -> None:
    from photowall.app import create_app

    ids = site.run(lambda db, media: seed_portraits(db, media, 60))
    newest_first = list(reversed(ids))
    app = create_app(site.settings)  # its own, on this test's event loop
    statements: list[str] = []
    engine = app.state.services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    async def go() -> list[tuple[int, list[str], str]]:
        async with AsyncTestClient(app, base_url="http://127.0.0.1") as client:

            async def one(index: int):
                cursor = newest_first[index]  # never handed out by the site: not cached
                page = await client.get(f"/?cursor={cursor}", headers={"HX-Request": "true"})
                return page.status_code, IDS.findall(page.text), cursor

            return await asyncio.gather(*(one(i) for i in range(50)))

    for status, seen, cursor in asyncio.run(go()):
        start = newest_first.index(cursor) + 1
        assert status == 200 and seen == newest_first[start : start + 12]
    assert len(statements) == 50

"""Keyset paging shared by the repositories: the page type and the newest-first query."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select

from ..db import Database
from ..jsonutil import decode_cursor, encode_cursor

MAX_PAGE = 1000
DEFAULT_PAGE = 100


@dataclass
class Page:
    """One page of a list: its items, the cursor of the next page (None on the last) and the total."""

    items: list[dict[str, Any]]
    next_cursor: str | None
    total: int


def clamp(limit: int | None, default: int = DEFAULT_PAGE) -> int:
    """A page size within 1..MAX_PAGE (``default`` when not given)."""
    if limit is None:
        return default
    return max(1, min(int(limit), MAX_PAGE))


def newest_first(
    db: Database,
    table: Any,
    where: Any,
    limit: int | None,
    cursor: str | None,
    conv: Callable[[Any], dict[str, Any]],
    columns: list[Any] | None = None,
) -> Page:
    """Rows of ``table`` matching ``where``, newest first, keyset-paged on (created_at, id)."""
    n = clamp(limit)
    q = select(*(columns or [table])).where(where)
    if cursor:
        created, ident = decode_cursor(cursor, 2)
        q = q.where(
            or_(
                table.c.created_at < str(created),
                and_(table.c.created_at == str(created), table.c.id < str(ident)),
            )
        )
    q = q.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(n + 1)
    with db.read() as conn:
        rows = conn.execute(q).all()
        total = conn.execute(select(func.count()).select_from(table).where(where)).scalar_one()
    more = len(rows) > n
    rows = rows[:n]
    nxt = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    return Page([conv(r) for r in rows], nxt, total)

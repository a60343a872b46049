"""the rates' summary holds declined cases; merged cases counted from a covering index

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 04:00:00.000000

At ten million cases a month's report spent most of its time on the tenth of the month's
cases that 0017 left out of ``case_rate_cells`` and counted one by one from the heap: open
cases, and the merged and declined ones, spread over every page of the month.

* ``cases.declined_at``: when a case never accepted was declined (不予受理), written by the
  domain (``Case.transition``), backfilled from the history. A declined case's counts then
  no longer need the history, so the triggers keep it in its cell like a settled closed case.
* Merged cases stay out of the cells: incident grouping merges them as they are opened, in
  the worker's batches, and a cell written there would be a lock shared by every batch of the
  day (two batches taking two cells in opposite orders deadlock). A merged case counts only
  as ``merged``, so ``storage.stats`` counts them from ``ix_cases_merged_filed``, a partial
  index that holds the few columns it needs (an index-only scan: a merged case seldom changes again).
* ``ix_cases_unsettled`` is rebuilt for the new, smaller set: open cases, cases closed without
  their times, and declined cases without a decision time.

The new cells are added set-based, as 0017's backfill did.
"""

# ruff: noqa: S608  (the SQL is built from this file's own constants, never from input)

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _load(name: str) -> ModuleType:
    """An earlier migration's module, for what it fixed (these files are not a package)."""
    path = Path(__file__).with_name(name)
    spec = importlib.util.spec_from_file_location(f"civicline_migration_{name[:4]}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BEFORE = _load("0017_rate_cells.py")
# The cells' counts and keys as 0017 made them (a cell's key: filing day and the dimensions).
COUNTS: tuple[str, ...] = BEFORE.COUNTS
KEYS: tuple[str, ...] = BEFORE.KEYS
_keys = BEFORE._keys
# UNSETTLED in storage/tables.py, the same text: 0017's, then this migration's.
UNSETTLED_BEFORE: str = BEFORE.UNSETTLED


def _unsettled(c: str = "") -> str:
    """Counted one by one: open cases, cases closed without their times, and declined cases
    without a decision time (``c``: the row's name)."""
    p = f"{c}." if c else ""
    return (
        f"{p}status NOT IN ('closed', 'rejected', 'merged')"
        f" OR ({p}status = 'closed' AND ({p}accepted_at IS NULL OR {p}closed_at IS NULL"
        f" OR ({p}first_reply_at IS NULL AND {p}reply_due_at IS NOT NULL)))"
        f" OR ({p}status = 'rejected' AND {p}accepted_at IS NULL AND {p}declined_at IS NULL)"
    )


UNSETTLED = _unsettled()
MERGED_COLUMNS = ["number", "department", "category", "channel", "outcome"]


def _settled(c: str) -> str:
    """In a cell: neither merged nor unsettled."""
    return f"NOT ({c}.status = 'merged' OR {_unsettled(c)})"


def _vector(c: str) -> list[str]:
    """A settled case's counts, closed or declined: the direct count's conditions
    (storage.stats) where every time they read is stored, so none depends on the report's."""
    live = f"{c}.status <> 'merged'"
    closed = f"{c}.status = 'closed'"
    answered = f"{live} AND {c}.visit_status = 'answered'"
    return [
        live,
        f"{c}.status = 'merged'",
        f"{c}.status = 'rejected'",
        live,
        f"{live} AND coalesce({c}.accepted_at, {c}.declined_at) <= {c}.accept_due_at",
        closed,
        f"{closed} AND {c}.closed_at <= {c}.complete_due_at",
        closed,
        f"{closed} AND {c}.reply_due_at IS NOT NULL",
        f"{closed} AND {c}.first_reply_at <= {c}.reply_due_at",
        f"{live} AND {c}.visit_status IS NOT NULL",
        answered,
        f"{live} AND {c}.visit_status = 'unreachable'",
        f"{answered} AND {c}.satisfaction = 'satisfied'",
        f"{answered} AND {c}.satisfaction = 'basic'",
        f"{answered} AND {c}.satisfaction = 'dissatisfied'",
        f"{answered} AND {c}.solved IS FALSE",
        f"{live} AND {c}.category IS NOT NULL AND {c}.is_repeat",
        f"{closed} AND {c}.legal_matter IS TRUE",
        f"{live} AND {c}.rating IS NOT NULL",
        f"{live} AND {c}.rating >= 4",
    ]


WATCHED = (
    "number, department, category, channel, outcome, status, accepted_at, declined_at,"
    " closed_at, first_reply_at, reply_due_at, accept_due_at, complete_due_at, visit_status,"
    " satisfaction, solved, is_repeat, legal_matter, rating, created_at"
)


def _functions() -> list[str]:
    counts = ", ".join(COUNTS)
    keys = ", ".join(KEYS)
    values = ", ".join(f"sign * coalesce(({v}), false)::int" for v in _vector("c"))
    added = ", ".join(f"{n} = case_rate_cells.{n} + excluded.{n}" for n in COUNTS)
    old_cols = ", ".join(f"OLD.{n.strip()}" for n in WATCHED.split(","))
    new_cols = ", ".join(f"NEW.{n.strip()}" for n in WATCHED.split(","))
    return [
        f"""
CREATE OR REPLACE FUNCTION case_rate_cells_add(c cases, sign integer) RETURNS void AS $$
BEGIN
    IF NOT ({_settled("c")}) THEN
        RETURN;  -- merged or unsettled: counted directly
    END IF;
    INSERT INTO case_rate_cells ({keys}, {counts}, first_at, last_at)
    VALUES ({", ".join(_keys("c"))}, {values}, c.created_at, c.created_at)
    ON CONFLICT ({keys}) DO UPDATE SET {added},
        first_at = least(case_rate_cells.first_at, excluded.first_at),
        last_at = greatest(case_rate_cells.last_at, excluded.last_at);
END $$ LANGUAGE plpgsql""",
        f"""
CREATE OR REPLACE FUNCTION case_rate_cells_track() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND ROW({old_cols}) IS NOT DISTINCT FROM ROW({new_cols}) THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM case_rate_cells_add(OLD, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM case_rate_cells_add(NEW, 1);
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql""",
    ]


def _declines_backfill() -> str:
    """The decision time of every case declined without being accepted: the history's first
    decline (the direct count read it from there)."""
    declines = "FROM case_events e WHERE e.to_status = 'rejected'"
    return (
        f"UPDATE cases SET declined_at = (SELECT min(e.at) {declines} AND e.case_id = cases.id)"
        f" WHERE accepted_at IS NULL AND id IN (SELECT e.case_id {declines})"
    )


def _cells_backfill() -> str:
    """The declined cases now settled, added to their cells (0017 held only closed ones)."""
    counts = ", ".join(COUNTS)
    keys = ", ".join(KEYS)
    sums = ", ".join(f"sum(coalesce(({v}), false)::int)" for v in _vector("c"))
    added = ", ".join(f"{n} = case_rate_cells.{n} + excluded.{n}" for n in COUNTS)
    return (
        f"INSERT INTO case_rate_cells ({keys}, {counts}, first_at, last_at)"
        f" SELECT {', '.join(_keys('c'))}, {sums}, min(c.created_at), max(c.created_at)"
        f" FROM cases c WHERE c.status = 'rejected' AND ({_settled('c')})"
        " GROUP BY 1, 2, 3, 4, 5"
        f" ON CONFLICT ({keys}) DO UPDATE SET {added},"
        " first_at = least(case_rate_cells.first_at, excluded.first_at),"
        " last_at = greatest(case_rate_cells.last_at, excluded.last_at)"
    )


def _unsettled_index(predicate: str) -> None:
    op.create_index(
        "ix_cases_unsettled",
        "cases",
        ["created_at"],
        postgresql_where=sa.text(predicate),
        sqlite_where=sa.text(predicate),
    )


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.add_column("cases", sa.Column("declined_at", sa.DateTime(timezone=True), nullable=True))
    # 0017's trigger does not watch the new column: the backfill writes no cell.
    op.execute(_declines_backfill())
    op.drop_index("ix_cases_unsettled", table_name="cases")
    _unsettled_index(UNSETTLED)
    op.create_index(
        "ix_cases_merged_filed",
        "cases",
        ["created_at"],
        postgresql_include=MERGED_COLUMNS,
        postgresql_where=sa.text("status = 'merged'"),
        sqlite_where=sa.text("status = 'merged'"),
    )
    if not postgresql:
        return
    op.execute("SET LOCAL work_mem = '256MB'")
    op.execute(_cells_backfill())
    for statement in _functions():
        op.execute(statement)
    op.execute("ANALYZE case_rate_cells")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The declined cases leave their cells; 0017's functions come back.
        keys = ", ".join(KEYS)
        taken = ", ".join(f"{n} = case_rate_cells.{n} - excluded.{n}" for n in COUNTS)
        sums = ", ".join(f"sum(coalesce(({v}), false)::int)" for v in _vector("c"))
        op.execute(
            f"INSERT INTO case_rate_cells ({keys}, {', '.join(COUNTS)}, first_at, last_at)"
            f" SELECT {', '.join(_keys('c'))}, {sums}, min(c.created_at), max(c.created_at)"
            f" FROM cases c WHERE c.status = 'rejected' AND ({_settled('c')})"
            f" GROUP BY 1, 2, 3, 4, 5 ON CONFLICT ({keys}) DO UPDATE SET {taken}"
        )
        for statement in BEFORE._functions()[:2]:  # the cells' two: add and track
            op.execute(statement.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.drop_index("ix_cases_merged_filed", table_name="cases")
    op.drop_index("ix_cases_unsettled", table_name="cases")
    _unsettled_index(UNSETTLED_BEFORE)
    op.drop_column("cases", "declined_at")

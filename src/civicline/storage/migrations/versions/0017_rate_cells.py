"""the rates' daily summary: a stored repeat flag and case_rate_cells, kept by triggers

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 18:30:00.000000

On PostgreSQL, ``cases.is_repeat`` (an earlier case of the citizen and category within 30
days) is set by triggers whenever a case is stored or its citizen, category or filing time
change, for the case and for the cases after it; and every *settled* case (closed with its
acceptance, close and due reply stored on it) adds its counts to its cell of
``case_rate_cells`` (filing day x department x category x channel x outcome) in the
transaction that changes it. ``storage.stats`` sums the cells and counts only the unsettled
cases directly (``ix_cases_unsettled``). SQLite counts directly, as before: the column stays
false there and the table empty.

The backfill is set-based: one UPDATE of the flag, one INSERT ... SELECT ... GROUP BY.
"""

# ruff: noqa: S608  (the SQL is built from this file's own constants, never from input)

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTS = (
    "cases", "merged", "rejected", "accept_due", "accepted_in_time", "complete_due",
    "completed_in_time", "closed", "reply_due", "replied_in_time", "visits", "visits_answered",
    "visits_unreachable", "satisfied", "basic", "dissatisfied", "unsolved", "repeats",
    "legal_matters", "rated", "rated_satisfied",
)  # fmt: skip
KEYS = ("day", "department", "category", "channel", "outcome")
# The cases storage.stats counts directly (UNSETTLED in storage/tables.py, the same text).
UNSETTLED = (
    "status <> 'closed' OR accepted_at IS NULL OR closed_at IS NULL"
    " OR (first_reply_at IS NULL AND reply_due_at IS NOT NULL)"
)
REPEAT_WINDOW = "interval '30 days'"


def _vector(c: str) -> list[str]:
    """A settled case's counts: the direct count's conditions where the status is 'closed'
    and the acceptance, close and any due reply are stored (``live`` holds, but says so)."""
    live = f"{c}.status <> 'merged'"
    answered = f"{live} AND {c}.visit_status = 'answered'"
    return [
        live,
        f"{c}.status = 'merged'",
        "false",
        live,
        f"{live} AND {c}.accepted_at <= {c}.accept_due_at",
        live,
        f"{live} AND {c}.closed_at <= {c}.complete_due_at",
        live,
        f"{live} AND {c}.reply_due_at IS NOT NULL",
        f"{live} AND {c}.first_reply_at <= {c}.reply_due_at",
        f"{live} AND {c}.visit_status IS NOT NULL",
        answered,
        f"{live} AND {c}.visit_status = 'unreachable'",
        f"{answered} AND {c}.satisfaction = 'satisfied'",
        f"{answered} AND {c}.satisfaction = 'basic'",
        f"{answered} AND {c}.satisfaction = 'dissatisfied'",
        f"{answered} AND {c}.solved IS FALSE",
        f"{live} AND {c}.category IS NOT NULL AND {c}.is_repeat",
        f"{live} AND {c}.legal_matter IS TRUE",
        f"{live} AND {c}.rating IS NOT NULL",
        f"{live} AND {c}.rating >= 4",
    ]


def _keys(c: str) -> list[str]:
    return [
        f"substr({c}.number, 1, 6)",
        f"coalesce({c}.department, '')",
        f"coalesce({c}.category, '')",
        f"{c}.channel",
        f"coalesce({c}.outcome, '')",
    ]


def _repeat(c: str) -> str:
    return (
        f"{c}.category IS NOT NULL AND EXISTS (SELECT 1 FROM cases e"
        f" WHERE e.citizen_id = {c}.citizen_id AND e.category = {c}.category"
        f" AND e.id <> {c}.id AND e.created_at < {c}.created_at"
        f" AND e.created_at >= {c}.created_at - {REPEAT_WINDOW})"
    )


def _followers(row: str) -> str:
    """Set the flag again on the cases that may look back at ``row``."""
    return (
        f"UPDATE cases f SET is_repeat = ({_repeat('f')})"
        f" WHERE f.citizen_id = {row}.citizen_id AND f.category = {row}.category"
        f" AND f.created_at > {row}.created_at"
        f" AND f.created_at <= {row}.created_at + {REPEAT_WINDOW} + interval '1 day'"
        f" AND f.id <> {row}.id AND f.is_repeat IS DISTINCT FROM ({_repeat('f')});"
    )


def _functions() -> list[str]:
    counts = ", ".join(COUNTS)
    keys = ", ".join(KEYS)
    values = ", ".join(f"sign * coalesce(({v}), false)::int" for v in _vector("c"))
    added = ", ".join(f"{n} = case_rate_cells.{n} + excluded.{n}" for n in COUNTS)
    watched = (
        "number, department, category, channel, outcome, status, accepted_at, closed_at,"
        " first_reply_at, reply_due_at, accept_due_at, complete_due_at, visit_status,"
        " satisfaction, solved, is_repeat, legal_matter, rating, created_at"
    )
    old_cols = ", ".join(f"OLD.{n.strip()}" for n in watched.split(","))
    new_cols = ", ".join(f"NEW.{n.strip()}" for n in watched.split(","))
    return [
        f"""
CREATE FUNCTION case_rate_cells_add(c cases, sign integer) RETURNS void AS $$
BEGIN
    IF NOT (c.status = 'closed' AND c.accepted_at IS NOT NULL AND c.closed_at IS NOT NULL
            AND (c.first_reply_at IS NOT NULL OR c.reply_due_at IS NULL)) THEN
        RETURN;  -- unsettled: counted directly
    END IF;
    INSERT INTO case_rate_cells ({keys}, {counts}, first_at, last_at)
    VALUES ({", ".join(_keys("c"))}, {values}, c.created_at, c.created_at)
    ON CONFLICT ({keys}) DO UPDATE SET {added},
        first_at = least(case_rate_cells.first_at, excluded.first_at),
        last_at = greatest(case_rate_cells.last_at, excluded.last_at);
END $$ LANGUAGE plpgsql""",
        f"""
CREATE FUNCTION case_rate_cells_track() RETURNS trigger AS $$
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
        f"""
CREATE FUNCTION cases_repeat_set() RETURNS trigger AS $$
BEGIN
    NEW.is_repeat := coalesce(({_repeat("NEW")}), false);
    RETURN NEW;
END $$ LANGUAGE plpgsql""",
        f"""
CREATE FUNCTION cases_repeat_followers() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        {_followers("OLD")}
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        {_followers("NEW")}
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql""",
    ]


TRIGGERS = (
    "CREATE TRIGGER cases_repeat_set BEFORE INSERT"
    " OR UPDATE OF citizen_id, category, created_at, is_repeat ON cases FOR EACH ROW EXECUTE FUNCTION cases_repeat_set()",
    "CREATE TRIGGER cases_repeat_followers AFTER INSERT OR DELETE"
    " OR UPDATE OF citizen_id, category, created_at"
    " ON cases FOR EACH ROW EXECUTE FUNCTION cases_repeat_followers()",
    "CREATE TRIGGER cases_rate_cells AFTER INSERT OR UPDATE OR DELETE"
    " ON cases FOR EACH ROW EXECUTE FUNCTION case_rate_cells_track()",
)


def backfill() -> list[str]:
    """Set-based: the flag of every case, then every settled case's cell."""
    counts = ", ".join(COUNTS)
    keys = ", ".join(KEYS)
    sums = ", ".join(f"sum(coalesce(({v}), false)::int)" for v in _vector("c"))
    return [
        # An earlier case of the citizen and category within the window, by a window function
        # over one sort of the table (the direct count's look-back, as a frame).
        "UPDATE cases c SET is_repeat = true FROM (SELECT id, count(*) OVER ("
        " PARTITION BY citizen_id, category ORDER BY created_at"
        f" RANGE BETWEEN {REPEAT_WINDOW} PRECEDING AND interval '1 microsecond' PRECEDING) AS n"
        " FROM cases WHERE category IS NOT NULL) w WHERE w.n > 0 AND c.id = w.id",
        f"INSERT INTO case_rate_cells ({keys}, {counts}, first_at, last_at)"
        f" SELECT {', '.join(_keys('c'))}, {sums}, min(c.created_at), max(c.created_at)"
        f" FROM cases c WHERE NOT ({UNSETTLED.replace('status', 'c.status')})"
        " GROUP BY 1, 2, 3, 4, 5",
    ]


def upgrade() -> None:
    op.add_column(
        "cases",
        sa.Column("is_repeat", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "case_rate_cells",
        sa.Column("day", sa.String(length=6), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        *(sa.Column(n, sa.Integer(), nullable=False) for n in COUNTS),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(*KEYS),
    )
    op.create_index(
        "ix_cases_unsettled",
        "cases",
        ["created_at"],
        postgresql_where=sa.text(UNSETTLED),
        sqlite_where=sa.text(UNSETTLED),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("SET LOCAL work_mem = '256MB'")  # the backfill's sort of every case
    for statement in backfill():
        op.execute(statement)
    op.execute("ANALYZE case_rate_cells")
    for statement in [*_functions(), *TRIGGERS]:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for trigger in ("cases_rate_cells", "cases_repeat_followers", "cases_repeat_set"):
            op.execute(f"DROP TRIGGER {trigger} ON cases")
        for function in (
            "case_rate_cells_track()",
            "case_rate_cells_add(cases, integer)",
            "cases_repeat_followers()",
            "cases_repeat_set()",
        ):
            op.execute(f"DROP FUNCTION {function}")
    op.drop_index("ix_cases_unsettled", table_name="cases")
    op.drop_table("case_rate_cells")
    op.drop_column("cases", "is_repeat")

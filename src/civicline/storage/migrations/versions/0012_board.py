"""the public board: each case's consent to publication, its board state and masked text,
and copies of what the board searches by (status, category, unit, district, close time);
leaders' public Q&A sessions, the cases marked as their questions, and their answers

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-06 12:00:00.000000

Cases filed before this revision were never asked: they have no board entry and are never
published.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)
PUBLISHED = "state = 'listed' AND status = 'closed'"
INDEXES = {
    "ix_board_entries_published": ["filed_at", "case_id"],
    "ix_board_entries_department": ["department", "filed_at"],
    "ix_board_entries_category": ["category", "filed_at"],
    "ix_board_entries_district": ["district", "filed_at"],
}


def upgrade() -> None:
    op.create_table(
        "board_entries",
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("public_id", sa.String(length=24), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=True),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("filed_at", WHEN, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("answered_at", WHEN, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_board_entries_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_board_entries")),
        sa.UniqueConstraint("public_id", name=op.f("uq_board_entries_public_id")),
    )
    for name, columns in INDEXES.items():
        op.create_index(
            name,
            "board_entries",
            columns,
            unique=False,
            postgresql_where=sa.text(PUBLISHED),
            sqlite_where=sa.text(PUBLISHED),
        )
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_board_entries_terms",
            "board_entries",
            [sa.text("string_to_array(terms, ' ')")],
            unique=False,
            postgresql_using="gin",
            postgresql_where=sa.text(PUBLISHED),
        )

    op.create_table(
        "qa_sessions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("public_id", sa.String(length=24), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("leader", sa.String(length=100), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("starts_at", WHEN, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("video_url", sa.String(length=500), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_sessions")),
        sa.UniqueConstraint("public_id", name=op.f("uq_qa_sessions_public_id")),
    )
    op.create_table(
        "qa_answers",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("session_id", BIG_ID, nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("case_number", sa.String(length=32), nullable=True),
        sa.Column("answered_by", sa.String(length=100), nullable=False),
        sa.Column("published_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["qa_sessions.id"], name=op.f("fk_qa_answers_session_id_qa_sessions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_answers")),
    )
    op.create_index("ix_qa_answers_session", "qa_answers", ["session_id", "id"], unique=False)
    op.create_table(
        "qa_questions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("session_id", BIG_ID, nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("case_number", sa.String(length=32), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("marked_by", sa.String(length=100), nullable=False),
        sa.Column("marked_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_qa_questions_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["qa_sessions.id"], name=op.f("fk_qa_questions_session_id_qa_sessions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_questions")),
        sa.UniqueConstraint(
            "session_id", "case_id", name=op.f("uq_qa_questions_session_id_case_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("qa_questions")
    op.drop_index("ix_qa_answers_session", table_name="qa_answers")
    op.drop_table("qa_answers")
    op.drop_table("qa_sessions")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_board_entries_terms", table_name="board_entries")
    for name in INDEXES:
        op.drop_index(name, table_name="board_entries")
    op.drop_table("board_entries")

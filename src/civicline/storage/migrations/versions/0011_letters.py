"""letters: the mayor's mailbox and paper letters; how far each mailbox folder was read

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-06 09:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "letters",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("inbound_id", BigId, nullable=False),
        sa.Column("case_id", BigId, nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("addressee", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("sender_name", sa.String(length=100), nullable=True),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("postmark_date", sa.Date(), nullable=True),
        sa.Column("received_at", WHEN, nullable=False),
        sa.Column("signatories", sa.Integer(), nullable=False),
        sa.Column("may_publish", sa.Boolean(), nullable=False),
        sa.Column("query_code_hash", sa.String(length=200), nullable=True),
        sa.Column("registered_by", sa.String(length=100), nullable=True),
        sa.Column("post_sent_on", sa.Date(), nullable=True),
        sa.Column("post_tracking_number", sa.String(length=64), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_letters_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["inbound_id"],
            ["inbound_messages.id"],
            name=op.f("fk_letters_inbound_id_inbound_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letters")),
        sa.UniqueConstraint("inbound_id", name=op.f("uq_letters_inbound_id")),
    )
    op.create_index(op.f("ix_letters_case_id"), "letters", ["case_id"], unique=False)
    op.create_table(
        "mail_cursors",
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("folder", sa.String(length=200), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("account", "folder", name=op.f("pk_mail_cursors")),
    )


def downgrade() -> None:
    op.drop_table("mail_cursors")
    op.drop_index(op.f("ix_letters_case_id"), table_name="letters")
    op.drop_table("letters")

"""guided dialogues (locations, buttons, shared phones, edits); channel metadata; reply channel

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 03:40:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("longitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("choice", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("shared_phone", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("edited", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("meta", sa.JSON(), server_default=sa.text("'{}'"), nullable=False)
        )
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("choices", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("longitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("reply_channel", sa.String(length=16), nullable=True))
    op.create_table(
        "dialogues",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["inbound_messages.id"],
            name=op.f("fk_dialogues_message_id_inbound_messages"),
        ),
        sa.PrimaryKeyConstraint("channel", "address", name=op.f("pk_dialogues")),
    )
    with op.batch_alter_table("dialogues", schema=None) as batch_op:
        batch_op.create_index("ix_dialogues_updated", ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dialogues", schema=None) as batch_op:
        batch_op.drop_index("ix_dialogues_updated")
    op.drop_table("dialogues")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("reply_channel")
        batch_op.drop_column("longitude")
        batch_op.drop_column("latitude")
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_column("choices")
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_column("meta")
        batch_op.drop_column("edited")
        batch_op.drop_column("shared_phone")
        batch_op.drop_column("choice")
        batch_op.drop_column("longitude")
        batch_op.drop_column("latitude")

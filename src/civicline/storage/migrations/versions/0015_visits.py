"""visits: the reception register (visits, visitors stored once with their ID numbers, who
came in each batch, the cases each visit touched), appointments and their per-day slots, and
the rota's one-day overrides

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-06 15:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "appointment_slots",
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("unit", "day", name=op.f("pk_appointment_slots")),
    )
    op.create_table(
        "rota_entries",
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("leader", sa.String(length=100), nullable=False),
        sa.Column("set_by", sa.String(length=100), nullable=False),
        sa.Column("set_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("unit", "day", name=op.f("pk_rota_entries")),
    )
    op.create_table(
        "visits",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("register_id", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.Column("matter", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("leader", sa.String(length=100), nullable=True),
        sa.Column("staff", sa.JSON(), nullable=False),
        sa.Column("counsel", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("collective", sa.Boolean(), nullable=False),
        sa.Column("repeat", sa.Boolean(), nullable=False),
        sa.Column("level_skipping", sa.Boolean(), nullable=False),
        sa.Column("appointment", sa.String(length=16), nullable=True),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("registered_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visits")),
        sa.UniqueConstraint("register_id", name=op.f("uq_visits_register_id")),
    )
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visits_received_at"), ["received_at"], unique=False)

    op.create_table(
        "appointments",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("brief", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("called_in_by", sa.String(length=100), nullable=True),
        sa.Column("citizen_id", BIG_ID, nullable=True),
        sa.Column("booked_at", WHEN, nullable=False),
        sa.Column("reminded_at", WHEN, nullable=True),
        sa.Column("visit_id", BIG_ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_appointments_citizen_id_citizens")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_appointments_visit_id_visits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
        sa.UniqueConstraint("number", name=op.f("uq_appointments_number")),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index("ix_appointments_day_status", ["day", "status"], unique=False)
        batch_op.create_index("ix_appointments_unit_day", ["unit", "day"], unique=False)

    op.create_table(
        "visitors",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("citizen_id", BIG_ID, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_visitors_citizen_id_citizens")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visitors")),
        sa.UniqueConstraint("id_number", name=op.f("uq_visitors_id_number")),
    )
    with op.batch_alter_table("visitors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visitors_phone"), ["phone"], unique=False)

    op.create_table(
        "visit_cases",
        sa.Column("visit_id", BIG_ID, nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_visit_cases_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_visit_cases_visit_id_visits")
        ),
        sa.PrimaryKeyConstraint("visit_id", "case_id", name=op.f("pk_visit_cases")),
    )
    with op.batch_alter_table("visit_cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_cases_case_id"), ["case_id"], unique=False)

    op.create_table(
        "visit_people",
        sa.Column("visit_id", BIG_ID, nullable=False),
        sa.Column("visitor_id", BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_visit_people_visit_id_visits")
        ),
        sa.ForeignKeyConstraint(
            ["visitor_id"], ["visitors.id"], name=op.f("fk_visit_people_visitor_id_visitors")
        ),
        sa.PrimaryKeyConstraint("visit_id", "visitor_id", name=op.f("pk_visit_people")),
    )
    with op.batch_alter_table("visit_people", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_visit_people_visitor_id"), ["visitor_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("visit_people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_people_visitor_id"))

    op.drop_table("visit_people")
    with op.batch_alter_table("visit_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_cases_case_id"))

    op.drop_table("visit_cases")
    with op.batch_alter_table("visitors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visitors_phone"))

    op.drop_table("visitors")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index("ix_appointments_unit_day")
        batch_op.drop_index("ix_appointments_day_status")

    op.drop_table("appointments")
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visits_received_at"))

    op.drop_table("visits")
    op.drop_table("rota_entries")
    op.drop_table("appointment_slots")

"""staff console: sessions, login lockout, case claims, canned replies (with a few seeded)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 03:40:00.000000

"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
AWAITING_REPLY = "status IN ('assigned', 'forwarded', 'in_progress', 'reopened')"
URGENT_QUEUE = f"{AWAITING_REPLY} AND (urgent OR collective)"
SEEDED_AT = datetime(2026, 11, 27, tzinfo=UTC)

# (category or None for any, language, title, text): common answers admins can edit or delete.
SEEDS = [
    (
        None,
        "zh",
        "已受理",
        "您好，您反映的问题已受理，我们将尽快安排相关人员核实处理，处理结果会及时告知您。",
    ),
    (
        None,
        "en",
        "Received",
        "Thank you. Your case has been accepted; we will look into it and tell you the outcome.",
    ),
    (
        None,
        "zh",
        "需补充信息",
        "您好，为便于核实处理，请补充具体地点（路名、门牌号或附近标志物）和发生时间。",
    ),
    (
        None,
        "en",
        "More details",
        "To look into this, please tell us the exact place (street, number or a landmark) and when it happened.",
    ),
    (
        "urban_rural_construction",
        "zh",
        "已派员维修",
        "您好，已通知维修单位到现场处理，预计两个工作日内修复，感谢您的监督。",
    ),
    (
        "urban_rural_construction",
        "en",
        "Repair arranged",
        "A repair crew has been sent; the fault should be fixed within two working days. Thank you for reporting it.",
    ),
    (
        "environment",
        "zh",
        "已安排执法检查",
        "您好，执法人员将到现场检查，如情况属实将依法处理，结果将及时反馈。",
    ),
    (
        "environment",
        "en",
        "Inspection arranged",
        "Inspectors will visit the site; if the problem is confirmed, it will be dealt with under the law.",
    ),
    (
        "transport",
        "zh",
        "已转交运营单位",
        "您好，您反映的问题已转交运营单位整改，我们将跟踪落实情况。",
    ),
    (
        "transport",
        "en",
        "Passed to the operator",
        "Your report has been passed to the operator for correction, and we will follow it up.",
    ),
    (
        "labour_social_security",
        "zh",
        "已立案调查欠薪",
        "您好，劳动保障监察部门已立案调查，请保留劳动合同、考勤和工资记录等证据。",
    ),
    (
        "labour_social_security",
        "en",
        "Wage case opened",
        "The labour inspectorate has opened a case; please keep your contract, attendance and pay records.",
    ),
]


def upgrade() -> None:
    canned = op.create_table(
        "canned_replies",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_replies")),
    )
    with op.batch_alter_table("canned_replies", schema=None) as batch_op:
        batch_op.create_index("ix_canned_replies_category", ["category", "language"], unique=False)
    op.create_table(
        "login_failures",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_login_failures")),
    )
    op.create_table(
        "case_claims",
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("holder_id", BIG_ID, nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_claims_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["holder_id"], ["staff_users.id"], name=op.f("fk_case_claims_holder_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_claims")),
    )
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_users.id"], name=op.f("fk_console_sessions_user_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
    )
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_console_sessions_user", ["user_id"], unique=False)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_urgent_queue",
            ["complete_due_at", "id"],
            unique=False,
            postgresql_where=sa.text(URGENT_QUEUE),
            sqlite_where=sa.text(URGENT_QUEUE),
        )
    # Naive UTC on SQLite, as the application's UTCDateTime stores it.
    seeded_at = (
        SEEDED_AT if op.get_bind().dialect.name != "sqlite" else SEEDED_AT.replace(tzinfo=None)
    )
    op.bulk_insert(
        canned,
        [
            {
                "category": category,
                "language": language,
                "title": title,
                "text": text,
                "updated_at": seeded_at,
                "updated_by": "system",
            }
            for category, language, title, text in SEEDS
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_urgent_queue")
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_console_sessions_user")
    op.drop_table("console_sessions")
    op.drop_table("case_claims")
    op.drop_table("login_failures")
    with op.batch_alter_table("canned_replies", schema=None) as batch_op:
        batch_op.drop_index("ix_canned_replies_category")
    op.drop_table("canned_replies")

"""evaluations and certificates: an event's questions, the personal links, answers with no link to the person, certificates of attendance

Revision ID: 2e5f6a7b8c9d
Revises: 1d4e5f6a7b8c
Create Date: 2026-12-01 12:40:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import app.models

revision = "2e5f6a7b8c9d"
down_revision = "1d4e5f6a7b8c"
branch_labels = None
depends_on = None


def exact(length):
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


def upgrade():
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "certificate_share",
                sa.Numeric(precision=3, scale=2, asdecimal=False),
                nullable=True,
                server_default="0.80",
            )
        )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.alter_column(
            "certificate_share",
            existing_type=sa.Numeric(precision=3, scale=2, asdecimal=False),
            server_default=None,
        )

    op.create_table(
        "evaluation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", app.models.UTCDateTime(), nullable=False),
        sa.Column("sent_at", app.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_evaluation_event_id_event"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation")),
        sa.UniqueConstraint("event_id", name=op.f("uq_evaluation_event_id")),
    )

    op.create_table(
        "evaluation_question",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("text", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluation_id"], ["evaluation.id"],
            name=op.f("fk_evaluation_question_evaluation_id_evaluation"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_question")),
    )
    with op.batch_alter_table("evaluation_question", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evaluation_question_evaluation_id"), ["evaluation_id"], unique=False
        )

    op.create_table(
        "evaluation_invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("token", exact(64), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.Column("invited_at", app.models.UTCDateTime(), nullable=False),
        sa.Column("reminded_at", app.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["evaluation_id"], ["evaluation.id"],
            name=op.f("fk_evaluation_invitation_evaluation_id_evaluation"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"], ["registration.id"],
            name=op.f("fk_evaluation_invitation_registration_id_registration"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_invitation")),
        sa.UniqueConstraint("token", name=op.f("uq_evaluation_invitation_token")),
        sa.UniqueConstraint(
            "evaluation_id", "registration_id", name="uq_evaluation_invitation_person"
        ),
    )
    with op.batch_alter_table("evaluation_invitation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evaluation_invitation_registration_id"), ["registration_id"], unique=False
        )

    # No registration, email, token or time: nothing joins an answer to a person.
    op.create_table(
        "evaluation_answer",
        sa.Column("id", exact(32), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["evaluation_id"], ["evaluation.id"],
            name=op.f("fk_evaluation_answer_evaluation_id_evaluation"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisation.id"],
            name=op.f("fk_evaluation_answer_organisation_id_organisation"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_answer")),
    )
    with op.batch_alter_table("evaluation_answer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evaluation_answer_evaluation_id"), ["evaluation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_evaluation_answer_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "evaluation_answer_item",
        sa.Column("answer_id", exact(32), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["answer_id"], ["evaluation_answer.id"],
            name=op.f("fk_evaluation_answer_item_answer_id_evaluation_answer"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"], ["evaluation_question.id"],
            name=op.f("fk_evaluation_answer_item_question_id_evaluation_question"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("answer_id", "question_id", name=op.f("pk_evaluation_answer_item")),
    )
    with op.batch_alter_table("evaluation_answer_item", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evaluation_answer_item_question_id"), ["question_id"], unique=False
        )

    op.create_table(
        "certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", exact(16), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("issued_at", app.models.UTCDateTime(), nullable=False),
        sa.Column("sessions_attended", sa.Integer(), nullable=False),
        sa.Column("sessions_total", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"], ["registration.id"],
            name=op.f("fk_certificate_registration_id_registration"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate")),
        sa.UniqueConstraint("code", name=op.f("uq_certificate_code")),
        sa.UniqueConstraint("registration_id", name=op.f("uq_certificate_registration_id")),
    )


def downgrade():
    op.drop_table("certificate")
    with op.batch_alter_table("evaluation_answer_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluation_answer_item_question_id"))
    op.drop_table("evaluation_answer_item")
    with op.batch_alter_table("evaluation_answer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluation_answer_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_evaluation_answer_evaluation_id"))
    op.drop_table("evaluation_answer")
    with op.batch_alter_table("evaluation_invitation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluation_invitation_registration_id"))
    op.drop_table("evaluation_invitation")
    with op.batch_alter_table("evaluation_question", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluation_question_evaluation_id"))
    op.drop_table("evaluation_question")
    op.drop_table("evaluation")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("certificate_share")

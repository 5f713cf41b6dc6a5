"""e-certificates: every issued e-certificate, for individual revocation

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 16:00:00.000000

``e_certificates`` keeps one row per issued e-certificate (电子证照): holder,
kind, format, UVCI (DCC) or ``rid`` (SMART Health Card), signing key, issue and
expiry times, and when and why it was revoked. No personal data: name, birth
date and records stay sealed with the holder. The revocation lists (the DCC
UCI hashes in the trust list, the SHC CRL per key) are computed from it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "e_certificates",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("holder_id", sa.String(length=32), nullable=False),
        sa.Column("issuer_code", sa.String(length=6), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("uvci", sa.String(length=80), nullable=True),
        sa.Column("rid", sa.String(length=24), nullable=True),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revocation_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["holder_id"], ["holders.id"]),
        sa.ForeignKeyConstraint(["kid"], ["signing_keys.kid"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uvci"),
    )
    with op.batch_alter_table("e_certificates", schema=None) as batch_op:
        batch_op.create_index("ix_e_certificates_holder_id", ["holder_id"], unique=False)
        batch_op.create_index("ix_e_certificates_kid", ["kid"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("e_certificates", schema=None) as batch_op:
        batch_op.drop_index("ix_e_certificates_kid")
        batch_op.drop_index("ix_e_certificates_holder_id")
    op.drop_table("e_certificates")

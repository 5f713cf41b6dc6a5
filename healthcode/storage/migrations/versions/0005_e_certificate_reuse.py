"""e-certificate reuse: content digest and SHC issuer URL of each issued e-certificate

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 10:00:00.000000

The holder page shows a holder's current e-certificate again (its QR, PNG, PDF,
text) instead of signing a new one per click. ``content_digest`` is a keyed HMAC
of what the certificate certifies (kind, format, issuer, name, birth date,
records): a certificate whose digest still matches the holder's data can be
signed again with its own ID, times and key. Keyed, so it reveals nothing of
the personal data. ``shc_issuer`` is a SMART Health Card's ``iss`` (the
server's public URL when it was issued), so our verifier finds the key under
the URL the card names. Both nullable: older rows have neither (they are never
shown again, and their SHC ``iss`` is the configured one).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot drop a column in place on older versions (downgrade)
    with op.batch_alter_table("e_certificates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("shc_issuer", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("e_certificates", schema=None) as batch_op:
        batch_op.drop_column("shc_issuer")
        batch_op.drop_column("content_digest")

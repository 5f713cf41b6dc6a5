"""signing key certificate: X.509 DER beside e-certificate keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 13:18:52.923460

E-certificates (电子证照) in the EU DCC format are signed by a document signer
certificate (DSC) issued by the region's country signing CA (CSCA); verifiers
look the DSC up by kid, so the certificate is stored with its key
(``purpose`` ``dcc`` and ``dcc-csca``). Nullable: other keys have none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot drop a column in place on older versions (downgrade)
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("certificate", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.drop_column("certificate")

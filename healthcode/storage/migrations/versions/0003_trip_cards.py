"""trip cards: location records, sealed phone numbers, cards, trip-card sessions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 14:10:00.000000

The trip card (通信行程卡, issue 3) stores what its batch job reads and writes:

- ``trip_phones``: each phone number seen in location records, sealed, by blind
  index (the same index as ``holders.phone_index``);
- ``location_records``: one row per distinct (phone index, second, lon, lat),
  time as UTC epoch seconds, the cell id when the record named one, and the
  import it came from; the primary key also drops exact duplicates on import;
- ``trip_cards``: the card JSON per (phone index, query date);
- ``trip_sessions``: short sessions of the SMS-code trip-card page.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trip_phones",
        sa.Column("phone_index", sa.String(length=32), nullable=False),
        sa.Column("phone", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("phone_index"),
    )
    op.create_table(
        "location_records",
        sa.Column("phone_index", sa.String(length=32), nullable=False),
        sa.Column("epoch_s", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("cell_id", sa.String(length=64), nullable=True),
        sa.Column("import_id", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("phone_index", "epoch_s", "lon", "lat"),
    )
    with op.batch_alter_table("location_records", schema=None) as batch_op:
        batch_op.create_index("ix_location_records_epoch_s", ["epoch_s"], unique=False)

    op.create_table(
        "trip_cards",
        sa.Column("phone_index", sa.String(length=32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("card", sa.Text(), nullable=False),
        sa.Column("colour", sa.String(length=8), nullable=False),
        sa.Column("policy", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("built_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("risk_import", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("phone_index", "as_of"),
    )
    with op.batch_alter_table("trip_cards", schema=None) as batch_op:
        batch_op.create_index("ix_trip_cards_as_of", ["as_of"], unique=False)

    op.create_table(
        "trip_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("phone_index", sa.String(length=32), nullable=False),
        sa.Column("phone_masked", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )


def downgrade() -> None:
    op.drop_table("trip_sessions")
    with op.batch_alter_table("trip_cards", schema=None) as batch_op:
        batch_op.drop_index("ix_trip_cards_as_of")

    op.drop_table("trip_cards")
    with op.batch_alter_table("location_records", schema=None) as batch_op:
        batch_op.drop_index("ix_location_records_epoch_s")

    op.drop_table("location_records")
    op.drop_table("trip_phones")

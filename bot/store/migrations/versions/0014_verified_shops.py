"""verified shops: merchants.verified_at; one live shop per registration number

The Verified mark was shown for every enterprise; now only for shops the
business registry or an admin checked, so no existing shop starts verified.
A registration number held by two live shops before this revision stays with
the earlier one; the later ones are rejected (the duplicates were
impersonations: nothing checked the number) so the unique index can be built.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 16:30:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import bot.store.types  # noqa: F401

# revision identifiers, used by Alembic.
revision: str = '0014'
down_revision: Union[str, Sequence[str], None] = '0013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

LIVE = sa.text("status != 'rejected'")


def upgrade() -> None:
    """Upgrade schema."""
    op.execute(
        "UPDATE merchants SET status = 'rejected', "
        "reject_reason = 'This registration number belongs to an earlier shop.' "
        "WHERE registration_no IS NOT NULL AND status != 'rejected' AND EXISTS ("
        "SELECT 1 FROM merchants AS earlier WHERE earlier.registration_no = merchants.registration_no "
        "AND earlier.status != 'rejected' AND earlier.id < merchants.id)"
    )
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verified_at', bot.store.types.UTCDateTime(), nullable=True))
        batch_op.create_index('uq_merchants_live_registration_no', ['registration_no'], unique=True,
                              sqlite_where=LIVE, postgresql_where=LIVE)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_index('uq_merchants_live_registration_no', sqlite_where=LIVE, postgresql_where=LIVE)
        batch_op.drop_column('verified_at')

"""payout accounts: the payee's real name on merchants, the hold after a change of account, and the
payee fixed on each payout

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 20:10:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types below)
from alembic import op

import bot.store.types  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = '0019'
down_revision: Union[str, Sequence[str], None] = '0018'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema.

    Existing shops keep the account they had (if any) but have no holder's name yet, so they are
    not paid out until they set one (/payee): no payout goes to a placeholder any more.
    """
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payout_name', sqlmodel.sql.sqltypes.AutoString(length=64),
                                      server_default='', nullable=False))
        batch_op.add_column(sa.Column('payout_changed_at', bot.store.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('payout_held_until', bot.store.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('payout_carried_since', sqlmodel.sql.sqltypes.AutoString(length=32),
                                      nullable=True))
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payee_account', sqlmodel.sql.sqltypes.AutoString(length=100),
                                      nullable=True))
        batch_op.add_column(sa.Column('payee_name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('held_since', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.drop_column('held_since')
        batch_op.drop_column('payee_name')
        batch_op.drop_column('payee_account')
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_column('payout_carried_since')
        batch_op.drop_column('payout_held_until')
        batch_op.drop_column('payout_changed_at')
        batch_op.drop_column('payout_name')

"""settlement as of its cycle: merchants.next_plan_at; ledger_journals.created_at indexed

A cycle caught up late settles with the facts as of its own moment: the plan
switch asked for by then (``next_plan_at``) and balances as of then (the
journals dated after a moment are found through the index).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 16:15:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from bot.store.types import UTCDateTime

# revision identifiers, used by Alembic.
revision: str = '0013'
down_revision: Union[str, Sequence[str], None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_plan_at', UTCDateTime(), nullable=True))
    with op.batch_alter_table('ledger_journals', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_journals_created_at', ['created_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('ledger_journals', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_journals_created_at')
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_column('next_plan_at')

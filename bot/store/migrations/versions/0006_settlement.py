"""settlement: cycle runs and reconciliation differences

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-25 22:10:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate may name sqlmodel types)
import bot.store.types  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('cycle_runs',
    sa.Column('job', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('started_at', bot.store.types.UTCDateTime(), nullable=False),
    sa.Column('finished_at', bot.store.types.UTCDateTime(), nullable=True),
    sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint('job', 'period', name=op.f('pk_cycle_runs'))
    )
    op.create_table('reconciliation_differences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('problem', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('bot_amount_fen', sa.BigInteger(), nullable=True),
    sa.Column('gateway_amount_fen', sa.BigInteger(), nullable=True),
    sa.Column('created_at', bot.store.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliation_differences')),
    sa.UniqueConstraint('day', 'kind', 'reference', 'problem', name=op.f('uq_reconciliation_differences_day'))
    )
    with op.batch_alter_table('reconciliation_differences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reconciliation_differences_day'), ['day'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('reconciliation_differences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reconciliation_differences_day'))
    op.drop_table('reconciliation_differences')
    op.drop_table('cycle_runs')

"""follow-up messages and their deliveries

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-25 22:05:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate may name sqlmodel types)
import bot.store.types  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('followups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('created_at', bot.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_followups_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_followups')),
    sa.UniqueConstraint('key', name=op.f('uq_followups_key'))
    )
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_followups_merchant_id'), ['merchant_id'], unique=False)

    op.create_table('followup_deliveries',
    sa.Column('followup_id', sa.Integer(), nullable=False),
    sa.Column('buyer_id', sa.BigInteger(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', bot.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['buyer_id'], ['users.id'], name=op.f('fk_followup_deliveries_buyer_id_users')),
    sa.ForeignKeyConstraint(['followup_id'], ['followups.id'],
                            name=op.f('fk_followup_deliveries_followup_id_followups')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'],
                            name=op.f('fk_followup_deliveries_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('followup_id', 'buyer_id', name=op.f('pk_followup_deliveries'))
    )
    with op.batch_alter_table('followup_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_followup_deliveries_cap', ['merchant_id', 'buyer_id', 'created_at'],
                              unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('followup_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_followup_deliveries_cap')
    op.drop_table('followup_deliveries')
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_followups_merchant_id'))
    op.drop_table('followups')

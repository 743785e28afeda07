"""merchant channels; posted cards remember what they last showed

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 22:05:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate may name sqlmodel types)
import bot.store.types  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('merchant_channels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('created_at', bot.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'],
                            name=op.f('fk_merchant_channels_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_merchant_channels')),
    sa.UniqueConstraint('merchant_id', 'chat_id', name=op.f('uq_merchant_channels_merchant_id')),
    )
    with op.batch_alter_table('merchant_channels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_merchant_channels_merchant_id'), ['merchant_id'], unique=False)

    with op.batch_alter_table('posted_cards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('has_photo', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=8),
                                      nullable=False, server_default='zh'))
        batch_op.add_column(sa.Column('rendered_price_fen', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('rendered_stock', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rendered_status', sqlmodel.sql.sqltypes.AutoString(length=16),
                                      nullable=True))
        batch_op.add_column(sa.Column('rendered_at', bot.store.types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('posted_cards', schema=None) as batch_op:
        for column in ('rendered_at', 'rendered_status', 'rendered_stock', 'rendered_price_fen',
                       'language', 'has_photo'):
            batch_op.drop_column(column)
    with op.batch_alter_table('merchant_channels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_merchant_channels_merchant_id'))
    op.drop_table('merchant_channels')

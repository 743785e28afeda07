"""addresses and shipping: an address book per buyer, a product's shipped flag, a shop's shipping fee,
and an order's shipping fee and address snapshot (its total now includes shipping)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 16:30:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types below)
from alembic import op

import bot.store.types  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = '0016'
down_revision: Union[str, Sequence[str], None] = '0015'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('addresses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('created_at', bot.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', bot.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_addresses_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_addresses'))
    )
    with op.batch_alter_table('addresses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_addresses_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shipped', sa.Boolean(), server_default=sa.text('true'), nullable=False))

    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shipping_fee_fen', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('free_shipping_from_fen', sa.BigInteger(), nullable=True))
        batch_op.create_check_constraint('shipping_fee', 'shipping_fee_fen >= 0')
        batch_op.create_check_constraint(
            'free_shipping_from', 'free_shipping_from_fen IS NULL OR free_shipping_from_fen > 0')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shipping_fen', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('ships', sa.Boolean(), server_default=sa.text('false'), nullable=False))
        batch_op.add_column(sa.Column('ship_name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('ship_phone', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('ship_address', sqlmodel.sql.sqltypes.AutoString(length=300),
                                      nullable=True))
        batch_op.add_column(sa.Column('address_erased_at', bot.store.types.UTCDateTime(), nullable=True))
        batch_op.drop_constraint(op.f('ck_orders_total'), type_='check')
        batch_op.create_check_constraint('total', 'total_fen = unit_price_fen * quantity + shipping_fen')
        batch_op.create_check_constraint('shipping_not_negative', 'shipping_fen >= 0')


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_orders_shipping_not_negative'), type_='check')
        batch_op.drop_constraint(op.f('ck_orders_total'), type_='check')
        batch_op.create_check_constraint('total', 'total_fen = unit_price_fen * quantity')
        batch_op.drop_column('address_erased_at')
        batch_op.drop_column('ship_address')
        batch_op.drop_column('ship_phone')
        batch_op.drop_column('ship_name')
        batch_op.drop_column('ships')
        batch_op.drop_column('shipping_fen')
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_merchants_free_shipping_from'), type_='check')
        batch_op.drop_constraint(op.f('ck_merchants_shipping_fee'), type_='check')
        batch_op.drop_column('free_shipping_from_fen')
        batch_op.drop_column('shipping_fee_fen')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('shipped')
    with op.batch_alter_table('addresses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_addresses_user_id'))
    op.drop_table('addresses')

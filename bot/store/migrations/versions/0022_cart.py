"""cart: a buyer's cart per shop, an order checked out from it with lines, a refund of one line

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 23:30:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types below)
from alembic import op

import bot.store.types  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = '0022'
down_revision: Union[str, Sequence[str], None] = '0021'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OPEN = "state = 'awaiting_payment'"
TOTAL = "total_fen = unit_price_fen * quantity + shipping_fen"
CART_ORDER = "(product_id IS NULL AND unit_price_fen IS NULL AND variant_id IS NULL)"


def _open_order_indexes(batch_op) -> None:
    """The partial unique indexes, written out again: SQLite's table copy must keep their WHERE."""
    batch_op.create_index('uq_orders_open_per_buyer_product', ['buyer_id', 'product_id'], unique=True,
                          sqlite_where=sa.text(OPEN + " AND variant_id IS NULL"),
                          postgresql_where=sa.text(OPEN + " AND variant_id IS NULL"))
    batch_op.create_index('uq_orders_open_per_buyer_variant', ['buyer_id', 'variant_id'], unique=True,
                          sqlite_where=sa.text(OPEN + " AND variant_id IS NOT NULL"),
                          postgresql_where=sa.text(OPEN + " AND variant_id IS NOT NULL"))


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('cart_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('buyer_id', sa.BigInteger(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('added_at', bot.store.types.UTCDateTime(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_cart_items_quantity_positive')),
    sa.ForeignKeyConstraint(['buyer_id'], ['users.id'], name=op.f('fk_cart_items_buyer_id_users')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_cart_items_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_cart_items_product_id_products')),
    sa.ForeignKeyConstraint(['variant_id'], ['product_variants.id'],
                            name=op.f('fk_cart_items_variant_id_product_variants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cart_items'))
    )
    with op.batch_alter_table('cart_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cart_items_buyer_id'), ['buyer_id'], unique=False)
        batch_op.create_index('uq_cart_items_buyer_product', ['buyer_id', 'product_id'], unique=True,
                              sqlite_where=sa.text('variant_id IS NULL'),
                              postgresql_where=sa.text('variant_id IS NULL'))
        batch_op.create_index('uq_cart_items_buyer_variant', ['buyer_id', 'variant_id'], unique=True,
                              sqlite_where=sa.text('variant_id IS NOT NULL'),
                              postgresql_where=sa.text('variant_id IS NOT NULL'))

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('uq_orders_open_per_buyer_variant')
        batch_op.drop_index('uq_orders_open_per_buyer_product')
        batch_op.alter_column('product_id', existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column('unit_price_fen', existing_type=sa.BigInteger(), nullable=True)
        batch_op.drop_constraint(op.f('ck_orders_total'), type_='check')
        batch_op.create_check_constraint('total', f"{CART_ORDER} OR {TOTAL}")
        _open_order_indexes(batch_op)

    op.create_table('order_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=True),
    sa.Column('variant_label', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price_fen', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_order_lines_quantity_positive')),
    sa.CheckConstraint('unit_price_fen > 0', name=op.f('ck_order_lines_price_positive')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_lines_order_id_orders')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_order_lines_product_id_products')),
    sa.ForeignKeyConstraint(['variant_id'], ['product_variants.id'],
                            name=op.f('fk_order_lines_variant_id_product_variants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_lines')),
    sa.UniqueConstraint('order_id', 'position', name=op.f('uq_order_lines_order_id'))
    )
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.create_index('ix_order_lines_product_id', ['product_id'], unique=False)

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('line_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_refunds_line_id_order_lines'), 'order_lines',
                                    ['line_id'], ['id'])


def downgrade() -> None:
    """Downgrade schema; refused while orders checked out from a cart exist (their money is real)."""
    if op.get_bind().execute(sa.text("SELECT count(*) FROM orders WHERE product_id IS NULL")).scalar():
        raise RuntimeError("orders checked out from a cart exist: they cannot be kept without their lines")
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_refunds_line_id_order_lines'), type_='foreignkey')
        batch_op.drop_column('line_id')
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_order_lines_product_id')
    op.drop_table('order_lines')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('uq_orders_open_per_buyer_variant')
        batch_op.drop_index('uq_orders_open_per_buyer_product')
        batch_op.drop_constraint(op.f('ck_orders_total'), type_='check')
        batch_op.create_check_constraint('total', TOTAL)
        batch_op.alter_column('unit_price_fen', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('product_id', existing_type=sa.Integer(), nullable=False)
        _open_order_indexes(batch_op)
    with op.batch_alter_table('cart_items', schema=None) as batch_op:
        batch_op.drop_index('uq_cart_items_buyer_variant')
        batch_op.drop_index('uq_cart_items_buyer_product')
        batch_op.drop_index(batch_op.f('ix_cart_items_buyer_id'))
    op.drop_table('cart_items')

"""variants: a product's options (size, colour) with their own price and stock; an order names its option

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 20:10:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (column types below)
from alembic import op

import bot.store.types  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = '0021'
down_revision: Union[str, Sequence[str], None] = '0020'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OPEN = "state = 'awaiting_payment'"


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('product_variants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('price_fen', sa.BigInteger(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', bot.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', bot.store.types.UTCDateTime(), nullable=False),
    sa.CheckConstraint('price_fen > 0', name=op.f('ck_product_variants_price_positive')),
    sa.CheckConstraint('stock >= 0', name=op.f('ck_product_variants_stock_not_negative')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_variants_product_id_products')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_variants'))
    )
    with op.batch_alter_table('product_variants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_variants_product_id'), ['product_id'], unique=False)

    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('has_variants', sa.Boolean(), server_default=sa.text('false'),
                                      nullable=False))

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('variant_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('variant_label', sqlmodel.sql.sqltypes.AutoString(length=40),
                                      nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_orders_variant_id_product_variants'), 'product_variants',
                                    ['variant_id'], ['id'])
        batch_op.drop_index('uq_orders_open_per_buyer_product', sqlite_where=sa.text(OPEN),
                            postgresql_where=sa.text(OPEN))
        batch_op.create_index('uq_orders_open_per_buyer_product', ['buyer_id', 'product_id'], unique=True,
                              sqlite_where=sa.text(OPEN + " AND variant_id IS NULL"),
                              postgresql_where=sa.text(OPEN + " AND variant_id IS NULL"))
        batch_op.create_index('uq_orders_open_per_buyer_variant', ['buyer_id', 'variant_id'], unique=True,
                              sqlite_where=sa.text(OPEN + " AND variant_id IS NOT NULL"),
                              postgresql_where=sa.text(OPEN + " AND variant_id IS NOT NULL"))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('uq_orders_open_per_buyer_variant')
        batch_op.drop_index('uq_orders_open_per_buyer_product')
        batch_op.create_index('uq_orders_open_per_buyer_product', ['buyer_id', 'product_id'], unique=True,
                              sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))
        batch_op.drop_constraint(batch_op.f('fk_orders_variant_id_product_variants'), type_='foreignkey')
        batch_op.drop_column('variant_label')
        batch_op.drop_column('variant_id')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('has_variants')
    with op.batch_alter_table('product_variants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_variants_product_id'))
    op.drop_table('product_variants')

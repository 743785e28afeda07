"""flash sale: orders index (product_id, buyer_id) instead of (product_id); product_events.count

A Buy batch asks for its buyers' orders of one product: with (product_id)
alone SQLite read every order of the product. ``count`` lets a batch of Buy
taps be one event row.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 04:55:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_product_id')
        batch_op.create_index('ix_orders_product_id_buyer_id', ['product_id', 'buyer_id'], unique=False)
    with op.batch_alter_table('product_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('count', sa.Integer(), server_default='1', nullable=False))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('product_events', schema=None) as batch_op:
        batch_op.drop_column('count')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_product_id_buyer_id')
        batch_op.create_index('ix_orders_product_id', ['product_id'], unique=False)

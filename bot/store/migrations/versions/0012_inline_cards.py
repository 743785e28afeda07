"""posted cards sent through inline mode: inline_message_id; chat_id and message_id may be unknown

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 16:45:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('posted_cards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inline_message_id', sa.String(length=255), nullable=True))
        batch_op.alter_column('chat_id', existing_type=sa.BigInteger(), nullable=True)
        batch_op.alter_column('message_id', existing_type=sa.BigInteger(), nullable=True)
        batch_op.create_unique_constraint('uq_posted_cards_inline_message_id', ['inline_message_id'])


def downgrade() -> None:
    """Downgrade schema."""
    op.execute("DELETE FROM posted_cards WHERE inline_message_id IS NOT NULL")
    with op.batch_alter_table('posted_cards', schema=None) as batch_op:
        batch_op.drop_constraint('uq_posted_cards_inline_message_id', type_='unique')
        batch_op.alter_column('message_id', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('chat_id', existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_column('inline_message_id')

"""outbox: index (state, not_before, id), so the dispatcher's claim reads the first due rows in order

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 03:25:00

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_state_not_before')
        batch_op.create_index('ix_outbox_state_not_before_id', ['state', 'not_before', 'id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_state_not_before_id')
        batch_op.create_index('ix_outbox_state_not_before', ['state', 'not_before'], unique=False)

"""Join the channels, follow-ups and settlement branches into one head.

Revision ID: 0007
Revises: 0003, 0004, 0006
Create Date: 2026-11-26

The three were written in parallel on top of 0002 and touch separate tables,
so the merge carries no schema change; it lets later revisions (and
``alembic upgrade head``) name a single parent.
"""
from typing import Sequence, Union

# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = ('0003', '0004', '0006')
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

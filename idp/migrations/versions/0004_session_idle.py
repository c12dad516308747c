"""Login sessions note when they were last used, for the idle timeout.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 09:25:15.296870

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        # Existing sessions count as used at their start.
        batch_op.add_column(sa.Column('last_seen_at', sa.Integer(), nullable=False,
                                      server_default='0'))
    op.execute("UPDATE login_sessions SET last_seen_at = created_at")


def downgrade():
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_column('last_seen_at')

"""One-time links that were followed (invitations), kept until they would expire.

Revision ID: 0011
Revises: 0010

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('used_links',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_used_links'))
    )
    with op.batch_alter_table('used_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_links_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('used_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_links_expires_at'))
    op.drop_table('used_links')

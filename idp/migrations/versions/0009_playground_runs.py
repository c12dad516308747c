"""The playground's runs, held on the server (sealed) for the browser that began them.

Revision ID: 0009
Revises: 0008

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('playground_runs',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.Integer(), nullable=False),
    sa.Column('sealed', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_playground_runs'))
    )
    with op.batch_alter_table('playground_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_playground_runs_expires_at'), ['expires_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('playground_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_playground_runs_expires_at'))

    op.drop_table('playground_runs')

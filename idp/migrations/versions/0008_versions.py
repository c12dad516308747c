"""A version on users, clients and organizations, so an edit made meanwhile is caught
rather than overwritten; when clients and organizations last changed; the links a
consent page shows for a client (logo, policy, terms).

Revision ID: 0008
Revises: 0007

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('logo_uri', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('policy_uri', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('tos_uri', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('updated_at', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))

    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('updated_at', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('version')

    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('version')
        batch_op.drop_column('updated_at')

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('version')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('tos_uri')
        batch_op.drop_column('policy_uri')
        batch_op.drop_column('logo_uri')


"""Upstream identity providers (client secrets sealed) and the identities linked to
users, by the upstream's subject.

Revision ID: 0007
Revises: 0006

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('upstreams',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('issuer', sa.String(length=500), nullable=True),
    sa.Column('authorize_url', sa.String(length=500), nullable=True),
    sa.Column('token_url', sa.String(length=500), nullable=True),
    sa.Column('userinfo_url', sa.String(length=500), nullable=True),
    sa.Column('client_id', sa.String(length=500), nullable=False),
    sa.Column('sealed_client_secret', sa.String(length=2000), nullable=False),
    sa.Column('scope', sa.String(length=500), nullable=False),
    sa.Column('claims', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('link_by_verified_email', sa.Boolean(), nullable=False),
    sa.Column('create_users', sa.Boolean(), nullable=False),
    sa.Column('org_id', sa.String(length=36), nullable=True),
    sa.Column('groups_claim', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_upstreams_org_id_organizations'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_upstreams'))
    )
    op.create_table('linked_identities',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('upstream_id', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('created_at', sa.Integer(), nullable=False),
    sa.Column('last_used_at', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['upstream_id'], ['upstreams.id'], name=op.f('fk_linked_identities_upstream_id_upstreams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_linked_identities_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_linked_identities')),
    sa.UniqueConstraint('upstream_id', 'subject', name='uq_linked_identities_subject'),
    sa.UniqueConstraint('upstream_id', 'user_id', name='uq_linked_identities_user')
    )
    with op.batch_alter_table('linked_identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_linked_identities_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('linked_identities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_linked_identities_user_id'))

    op.drop_table('linked_identities')
    op.drop_table('upstreams')

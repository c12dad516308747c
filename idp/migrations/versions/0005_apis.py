"""APIs (resource servers) and roles; resources and claims requests granted with codes
and grants; clients may be limited to APIs, have a default one, a token profile, and
ID token claims.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:04:46.235044

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('apis',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('identifier', sa.String(length=2000), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('scopes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('access_token_alg', sa.String(length=16), nullable=False),
    sa.Column('access_token_ttl', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=128), nullable=False),
    sa.Column('secret_digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_apis')),
    sa.UniqueConstraint('client_id', name=op.f('uq_apis_client_id')),
    sa.UniqueConstraint('identifier', name=op.f('uq_apis_identifier'))
    )
    op.create_table('roles',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('api_id', sa.String(length=36), nullable=True),
    sa.Column('permissions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['api_id'], ['apis.id'], name=op.f('fk_roles_api_id_apis'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roles')),
    sa.UniqueConstraint('name', 'api_id', name=op.f('uq_roles_name'))
    )
    op.create_table('role_assignments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('role_id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=True),
    sa.Column('group_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_role_assignments_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['role_id'], ['roles.id'], name=op.f('fk_role_assignments_role_id_roles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_role_assignments_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_role_assignments')),
    sa.UniqueConstraint('role_id', 'user_id', 'group_id', name=op.f('uq_role_assignments_role_id'))
    )
    with op.batch_alter_table('role_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_role_assignments_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_role_assignments_role_id'), ['role_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_role_assignments_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resources', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False,
                                      server_default='[]'))
        batch_op.add_column(sa.Column('claims_request', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('apis', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False,
                                      server_default='[]'))
        batch_op.add_column(sa.Column('default_api', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('token_profile', sa.String(length=16), nullable=False,
                                      server_default='rfc9068'))
        batch_op.add_column(sa.Column('id_token_claims', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))

    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resources', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False,
                                      server_default='[]'))
        batch_op.add_column(sa.Column('claims_request', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))



def downgrade():
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_column('claims_request')
        batch_op.drop_column('resources')

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('id_token_claims')
        batch_op.drop_column('token_profile')
        batch_op.drop_column('default_api')
        batch_op.drop_column('apis')

    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.drop_column('claims_request')
        batch_op.drop_column('resources')

    with op.batch_alter_table('role_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_role_assignments_user_id'))
        batch_op.drop_index(batch_op.f('ix_role_assignments_role_id'))
        batch_op.drop_index(batch_op.f('ix_role_assignments_group_id'))

    op.drop_table('role_assignments')
    op.drop_table('roles')
    op.drop_table('apis')

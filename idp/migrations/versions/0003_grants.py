"""Self-contained access tokens: grants, used refresh tokens and the revoked-jti list
replace the row per token; clients can be disabled.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 08:58:27.343195

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('revoked_tokens',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_revoked_tokens'))
    )
    with op.batch_alter_table('revoked_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revoked_tokens_expires_at'), ['expires_at'], unique=False)

    op.create_table('grants',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('root_id', sa.String(length=36), nullable=False),
    sa.Column('parent_id', sa.String(length=36), nullable=True),
    sa.Column('client_id', sa.String(length=128), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('grant_type', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=2000), nullable=False),
    sa.Column('org_id', sa.String(length=36), nullable=True),
    sa.Column('sid', sa.String(length=64), nullable=True),
    sa.Column('offline', sa.Boolean(), nullable=False),
    sa.Column('auth_time', sa.Integer(), nullable=True),
    sa.Column('actor', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.Integer(), nullable=False),
    sa.Column('revoked_at', sa.Integer(), nullable=True),
    sa.Column('refresh_digest', sa.String(length=64), nullable=True),
    sa.Column('refresh_expires_at', sa.Integer(), nullable=True),
    sa.Column('rotated_at', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.client_id'], name=op.f('fk_grants_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_grants_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grants')),
    sa.UniqueConstraint('refresh_digest', name=op.f('uq_grants_refresh_digest'))
    )
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grants_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_grants_root_id'), ['root_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_grants_sid'), ['sid'], unique=False)
        batch_op.create_index('ix_grants_user_client', ['user_id', 'client_id'], unique=False)

    op.create_table('used_refresh_tokens',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('grant_id', sa.String(length=36), nullable=False),
    sa.Column('used_at', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['grant_id'], ['grants.id'], name=op.f('fk_used_refresh_tokens_grant_id_grants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_used_refresh_tokens'))
    )
    with op.batch_alter_table('used_refresh_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_refresh_tokens_grant_id'), ['grant_id'], unique=False)

    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tokens_expiry'))
        batch_op.drop_index(batch_op.f('ix_tokens_family_id'))
        batch_op.drop_index(batch_op.f('ix_tokens_user_id'))

    op.drop_table('tokens')
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))



def downgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('disabled')

    op.create_table('tokens',
    sa.Column('jti', sa.VARCHAR(length=64), nullable=False),
    sa.Column('family_id', sa.VARCHAR(length=36), nullable=False),
    sa.Column('client_id', sa.VARCHAR(length=128), nullable=False),
    sa.Column('user_id', sa.VARCHAR(length=36), nullable=True),
    sa.Column('grant_type', sa.VARCHAR(length=64), nullable=False),
    sa.Column('scope', sa.VARCHAR(length=2000), nullable=False),
    sa.Column('granted_scope', sa.VARCHAR(length=2000), nullable=False),
    sa.Column('org_id', sa.VARCHAR(length=36), nullable=True),
    sa.Column('sid', sa.VARCHAR(length=64), nullable=True),
    sa.Column('auth_time', sa.INTEGER(), nullable=True),
    sa.Column('actor', sqlite.JSON(), nullable=True),
    sa.Column('issued_at', sa.INTEGER(), nullable=False),
    sa.Column('expires_at', sa.INTEGER(), nullable=False),
    sa.Column('refresh_digest', sa.VARCHAR(length=64), nullable=True),
    sa.Column('refresh_expires_at', sa.INTEGER(), nullable=True),
    sa.Column('refresh_used_at', sa.INTEGER(), nullable=True),
    sa.Column('revoked_at', sa.INTEGER(), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.client_id'], name=op.f('fk_tokens_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_tokens')),
    sa.UniqueConstraint('refresh_digest', name=op.f('uq_tokens_refresh_digest'))
    )
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tokens_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tokens_family_id'), ['family_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tokens_expiry'), ['refresh_expires_at', 'expires_at'], unique=False)

    with op.batch_alter_table('used_refresh_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_refresh_tokens_grant_id'))

    op.drop_table('used_refresh_tokens')
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_index('ix_grants_user_client')
        batch_op.drop_index(batch_op.f('ix_grants_sid'))
        batch_op.drop_index(batch_op.f('ix_grants_root_id'))
        batch_op.drop_index(batch_op.f('ix_grants_expires_at'))

    op.drop_table('grants')
    with op.batch_alter_table('revoked_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revoked_tokens_expires_at'))

    op.drop_table('revoked_tokens')

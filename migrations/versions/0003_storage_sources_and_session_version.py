"""storage sources, their grants, and a per-user session version

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 18:05:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('storage_source',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('location', sa.String(length=1024), nullable=False),
    sa.Column('endpoint_url', sa.String(length=1024), nullable=True),
    sa.Column('access_key_encrypted', sa.Text(), nullable=True),
    sa.Column('secret_key_encrypted', sa.Text(), nullable=True),
    sa.Column('open_to_all_projects', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_storage_source')),
    sa.UniqueConstraint('name', name=op.f('uq_storage_source_name'))
    )
    op.create_table('storage_grant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_storage_grant_project_id_project'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_id'], ['storage_source.id'], name=op.f('fk_storage_grant_source_id_storage_source'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_storage_grant')),
    sa.UniqueConstraint('source_id', 'project_id', name=op.f('uq_storage_grant_source_id'))
    )
    with op.batch_alter_table('storage_grant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_storage_grant_project_id'), ['project_id'], unique=False)
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='1', nullable=False))


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('session_version')
    with op.batch_alter_table('storage_grant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_storage_grant_project_id'))
    op.drop_table('storage_grant')
    op.drop_table('storage_source')

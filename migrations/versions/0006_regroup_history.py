"""regroup history: one row per regroup that did work

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 18:25:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('regroup_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('deployment_id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=False),
    sa.Column('gap_seconds', sa.Integer(), nullable=False),
    sa.Column('keying', sa.String(length=16), nullable=False),
    sa.Column('max_session_seconds', sa.Integer(), nullable=False),
    sa.Column('sessions_before', sa.Integer(), nullable=False),
    sa.Column('sessions_after', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployment.id'], name=op.f('fk_regroup_record_deployment_id_deployment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['job_id'], ['job.id'], name=op.f('fk_regroup_record_job_id_job'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_regroup_record_user_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regroup_record'))
    )
    with op.batch_alter_table('regroup_record', schema=None) as batch_op:
        batch_op.create_index('ix_regroup_record_deployment_finished', ['deployment_id', 'finished_at'], unique=False)


def downgrade():
    with op.batch_alter_table('regroup_record', schema=None) as batch_op:
        batch_op.drop_index('ix_regroup_record_deployment_finished')
    op.drop_table('regroup_record')

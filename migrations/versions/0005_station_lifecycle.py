"""station lifecycle: time zone, deletion flag, named API tokens, job's station name

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 18:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('deployment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), server_default='UTC', nullable=False))
        # A plain-text default lets SQLite add the column in place: rebuilding the
        # table would drop the old one, and its ON DELETE CASCADE would take every
        # station's sessions and captures with it.
        batch_op.add_column(sa.Column('deleting', sa.Boolean(), server_default='0', nullable=False))

    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=100), server_default='', nullable=False))
        batch_op.add_column(sa.Column('last_used_at', sa.DateTime(), nullable=True))

    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deployment_name', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_column('deployment_name')

    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('name')

    with op.batch_alter_table('deployment', schema=None) as batch_op:
        batch_op.drop_column('deleting')
        batch_op.drop_column('time_zone')

"""Clock offsets: the `clock_offset` table and `capture.original_timestamp`

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-04

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'clock_offset',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('deployment_id', sa.Integer(), nullable=False),
        sa.Column('start_time', sa.DateTime(), nullable=False),
        sa.Column('end_time', sa.DateTime(), nullable=False),
        sa.Column('offset_seconds', sa.BigInteger(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['deployment_id'], ['deployment.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_clock_offset_deployment_start', 'clock_offset', ['deployment_id', 'start_time'])
    with op.batch_alter_table('capture', schema=None) as batch_op:
        batch_op.add_column(sa.Column('original_timestamp', sa.DateTime(), nullable=True))


def downgrade():
    # Corrected captures go back to the time read from their file before the column goes.
    op.execute("UPDATE capture SET timestamp = original_timestamp WHERE original_timestamp IS NOT NULL")
    with op.batch_alter_table('capture', schema=None) as batch_op:
        batch_op.drop_column('original_timestamp')
    op.drop_index('ix_clock_offset_deployment_start', table_name='clock_offset')
    op.drop_table('clock_offset')

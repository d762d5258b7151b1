"""Station health: each station's problems and the project's thresholds; its captures per night

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('deployment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('health_problems', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('health_computed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('has_problems', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('night_counts', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('night_counts_version', sa.Integer(), nullable=True))
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.add_column(sa.Column('health_settings', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_column('health_settings')
    with op.batch_alter_table('deployment', schema=None) as batch_op:
        batch_op.drop_column('night_counts_version')
        batch_op.drop_column('night_counts')
        batch_op.drop_column('has_problems')
        batch_op.drop_column('health_computed_at')
        batch_op.drop_column('health_problems')

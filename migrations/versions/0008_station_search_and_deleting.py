"""Stations: a case- and accent-folded name to search on, and an index of each station's jobs by time

The "being deleted" flag came with 0005.

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-25

"""
from alembic import op
import sqlalchemy as sa

from webapp.text import search_key

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('deployment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_name', sa.Text(), nullable=False, server_default=''))
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index('ix_job_deployment_created', ['deployment_id', 'created_at', 'id'], unique=False)
    deployment = sa.table('deployment', sa.column('id', sa.Integer), sa.column('name', sa.String), sa.column('search_name', sa.Text))
    conn = op.get_bind()
    rows = conn.execute(sa.select(deployment.c.id, deployment.c.name)).all()
    if rows:
        conn.execute(
            deployment.update().where(deployment.c.id == sa.bindparam('row_id')).values(search_name=sa.bindparam('folded')),
            [{'row_id': row.id, 'folded': search_key(row.name)} for row in rows],
        )


def downgrade():
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index('ix_job_deployment_created')
    with op.batch_alter_table('deployment', schema=None) as batch_op:
        batch_op.drop_column('search_name')

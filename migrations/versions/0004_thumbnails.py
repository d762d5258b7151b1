"""thumbnails, and the source file's modification time of a capture

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 18:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'thumbnail',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('capture_id', sa.Integer(), nullable=False),
        sa.Column('label', sa.String(length=32), nullable=False),
        sa.Column('width', sa.Integer(), nullable=False),
        sa.Column('height', sa.Integer(), nullable=False),
        sa.Column('path', sa.String(length=1024), nullable=False),
        sa.Column('source_mtime', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['capture_id'], ['capture.id'], name=op.f('fk_thumbnail_capture_id_capture'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_thumbnail')),
        sa.UniqueConstraint('capture_id', 'label', name=op.f('uq_thumbnail_capture_id')),
    )
    with op.batch_alter_table('capture', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_modified', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('capture', schema=None) as batch_op:
        batch_op.drop_column('last_modified')
    op.drop_table('thumbnail')

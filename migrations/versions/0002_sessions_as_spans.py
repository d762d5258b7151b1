"""sessions as time spans: captures lose event_id, sessions record their rule

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 18:10:00

A capture belongs to the session of its station whose [start_time, end_time]
holds its timestamp, so `capture.event_id` goes. Sessions keep their ids,
spans and counts; the rule a session was cut with is filled from its
station's `grouped_gap_seconds` / `grouped_keying` where the station recorded
them (the cap was never recorded, so it stays unknown). The lock loses the
marks that only the long per-capture write needed.
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gap_seconds', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('keying', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('max_session_seconds', sa.Integer(), nullable=True))
        batch_op.create_index('ix_event_deployment_start', ['deployment_id', 'start_time'], unique=False)
    op.execute(
        "UPDATE event SET "
        "gap_seconds = (SELECT deployment.grouped_gap_seconds FROM deployment WHERE deployment.id = event.deployment_id), "
        "keying = (SELECT deployment.grouped_keying FROM deployment WHERE deployment.id = event.deployment_id)"
    )
    with op.batch_alter_table('deployment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('captures_version', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('capture', schema=None) as batch_op:
        batch_op.drop_index('ix_capture_event')
        batch_op.drop_constraint('fk_capture_event_id_event', type_='foreignkey')
        batch_op.drop_column('event_id')
    with op.batch_alter_table('lock', schema=None) as batch_op:
        batch_op.drop_column('pass_open')
        batch_op.drop_column('pending')


def downgrade():
    with op.batch_alter_table('lock', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('pass_open', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('capture', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_capture_event_id_event', 'event', ['event_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index('ix_capture_event', ['event_id', 'timestamp'], unique=False)
    # Membership by span, written back as the foreign key the old schema reads.
    op.execute(
        "UPDATE capture SET event_id = (SELECT event.id FROM event WHERE event.deployment_id = capture.deployment_id "
        "AND capture.timestamp >= event.start_time AND capture.timestamp <= event.end_time) "
        "WHERE capture.timestamp IS NOT NULL"
    )
    with op.batch_alter_table('deployment', schema=None) as batch_op:
        batch_op.drop_column('captures_version')
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_index('ix_event_deployment_start')
        batch_op.drop_column('max_session_seconds')
        batch_op.drop_column('keying')
        batch_op.drop_column('gap_seconds')

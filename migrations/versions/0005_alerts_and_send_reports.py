"""AUP alerts, send reports (counted once per Idempotency-Key), and what each event counted

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
OPEN = sa.text("status IN ('open', 'acknowledged')")


def upgrade():
    op.create_table('alerts',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.Enum('warning', 'critical', name='severity', native_enum=False, length=16),
              nullable=False),
    sa.Column('status', sa.Enum('open', 'acknowledged', 'resolved', 'dismissed', name='alertstatus',
                                native_enum=False, length=16), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('window_days', sa.Integer(), nullable=False),
    sa.Column('volume', sa.Integer(), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=64), nullable=True),
    sa.Column('acknowledged_note', sa.Text(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(length=64), nullable=True),
    sa.Column('closed_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_alerts_account_id_accounts'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    op.create_index('uq_alerts_open_account_rule', 'alerts', ['account_id', 'rule'], unique=True,
                    postgresql_where=OPEN, sqlite_where=OPEN)
    op.create_index('ix_alerts_status_severity_id', 'alerts', ['status', 'severity', 'id'])
    op.create_index('ix_alerts_account_id', 'alerts', ['account_id', 'id'])
    op.create_table('send_reports',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('campaign', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_send_reports_account_id_accounts'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_send_reports')),
    sa.UniqueConstraint('account_id', 'idempotency_key', name='uq_send_reports_account_key')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sa.Enum('complaint', 'hard_bounce', 'unsubscribe', 'soft_bounce',
                                                         name='outcome', native_enum=False, length=16), nullable=True))
        batch_op.create_index('ix_events_account_outcome_id', ['account_id', 'outcome', 'id'])


def downgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_account_outcome_id')
        batch_op.drop_column('outcome')
    op.drop_table('send_reports')
    op.drop_index('ix_alerts_account_id', table_name='alerts')
    op.drop_index('ix_alerts_status_severity_id', table_name='alerts')
    op.drop_index('uq_alerts_open_account_rule', table_name='alerts')
    op.drop_table('alerts')

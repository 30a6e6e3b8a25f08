"""Indexes for the console: an account's suppressions by reason from the index alone, its latest
counted events, and one kind of its audit entries

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

COUNTED = sa.text('outcome IS NOT NULL')


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        op.create_index('ix_events_account_counted_id', 'events', ['account_id', 'id'], sqlite_where=COUNTED)
        op.create_index('ix_audit_log_account_action_id', 'audit_log', ['account_id', 'action', 'id'])
        return
    # CONCURRENTLY: the tables take writes (suppressions, events, audit entries) while it builds.
    with op.get_context().autocommit_block():
        op.create_index('ix_events_account_counted_id', 'events', ['account_id', 'id'], postgresql_where=COUNTED,
                        postgresql_concurrently=True, if_not_exists=True)
        op.create_index('ix_audit_log_account_action_id', 'audit_log', ['account_id', 'action', 'id'],
                        postgresql_concurrently=True, if_not_exists=True)
        # The replacement is built beside the old index, which serves until the swap.
        op.create_index('ix_suppressions_account_id_reason', 'suppressions', ['account_id', 'id'],
                        postgresql_include=['reason'], postgresql_concurrently=True, if_not_exists=True)
        op.drop_index('ix_suppressions_account_id', 'suppressions', postgresql_concurrently=True, if_exists=True)
        op.execute('ALTER INDEX ix_suppressions_account_id_reason RENAME TO ix_suppressions_account_id')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_suppressions_account_id', 'suppressions')
        op.create_index('ix_suppressions_account_id', 'suppressions', ['account_id', 'id'])
    op.drop_index('ix_audit_log_account_action_id', 'audit_log')
    op.drop_index('ix_events_account_counted_id', 'events')

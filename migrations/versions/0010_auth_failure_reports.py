"""daily_counts.auth_failure_reports: DMARC failure reports (ARF auth-failure) about an account's mail

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('daily_counts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('auth_failure_reports', sa.BigInteger(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('daily_counts', schema=None) as batch_op:
        batch_op.drop_column('auth_failure_reports')

"""daily counts per account: the AUP rates' numerators and denominators

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('daily_counts',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('sends', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('hard_bounces', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('soft_bounces', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('complaints', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('unsubscribes', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('trap_hits', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('seed_findings', sa.BigInteger(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_daily_counts_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'day', name=op.f('pk_daily_counts'))
    )


def downgrade():
    op.drop_table('daily_counts')

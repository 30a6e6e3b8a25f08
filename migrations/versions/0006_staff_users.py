"""Staff users of the console; room in the audit log for a staff member's address as the actor

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# "staff:" and an address of up to 254 characters: a metadata-only change on PostgreSQL; SQLite
# (which enforces no length) rebuilds the tables, small on a one-machine install.
ACTOR_COLUMNS = (('audit_log', 'actor'), ('alerts', 'acknowledged_by'), ('alerts', 'closed_by'),
                 ('suppressions', 'created_by'))


def upgrade():
    op.create_table('staff_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('role', sa.Enum('analyst', 'admin', name='staffrole', native_enum=False, length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('totp_secret', sa.String(length=64), nullable=True),
    sa.Column('totp_last_step', sa.BigInteger(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_users')),
    sa.UniqueConstraint('email', name=op.f('uq_staff_users_email'))
    )
    _actor_columns(sa.String(length=64), sa.String(length=320))


def downgrade():
    _actor_columns(sa.String(length=320), sa.String(length=64))
    op.drop_table('staff_users')


def _actor_columns(old, new):
    for table, column in ACTOR_COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=old, type_=new)

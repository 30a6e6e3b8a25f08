"""provider payloads stored once; each provider event holds what was found for it

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payloads',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payloads'))
    )
    # Events stored before this keep their raw payload and no finding: the worker parses those.
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payload_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('finding', sa.JSON(), nullable=True))
        batch_op.alter_column('raw', existing_type=sa.LargeBinary(), nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_events_payload_id_payloads'), 'payloads', ['payload_id'], ['id'],
                                    ondelete='SET NULL')


def downgrade():
    # Each provider event gets its payload's bytes back (the code before this parses them again).
    op.execute("UPDATE events SET raw = (SELECT payloads.raw FROM payloads WHERE payloads.id = events.payload_id) "
               "WHERE raw IS NULL")
    op.get_bind().execute(sa.text("UPDATE events SET raw = :empty WHERE raw IS NULL")
                          .bindparams(sa.bindparam('empty', b'', type_=sa.LargeBinary())))
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_events_payload_id_payloads'), type_='foreignkey')
        batch_op.alter_column('raw', existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column('finding')
        batch_op.drop_column('payload_id')

    op.drop_table('payloads')

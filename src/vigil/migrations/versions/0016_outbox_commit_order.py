"""outbox: writers take a shared advisory lock, so consumers never pass an uncommitted id

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 18:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

# On PostgreSQL, ids come from a sequence at INSERT time but become visible at COMMIT, so
# a transaction can commit id 101 while id 100 is still open. A consumer that read 101
# and moved its cursor past it would never see 100. Every transaction that writes the
# outbox therefore holds this lock shared until it ends (the trigger below), and a
# consumer takes it exclusively for a moment to learn the highest id no open
# transaction can still be below (outbox/consumer.py). SQLite has one writer at a time.
LOCK = "7400, 1"  # (classid, objid): the two-key advisory space, apart from ingest's keys


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"""
        CREATE FUNCTION vigil_outbox_writer_lock() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock_shared({LOCK});
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE TRIGGER outbox_writer_lock BEFORE INSERT ON outbox
        FOR EACH STATEMENT EXECUTE FUNCTION vigil_outbox_writer_lock()""")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS outbox_writer_lock ON outbox")
    op.execute("DROP FUNCTION IF EXISTS vigil_outbox_writer_lock()")

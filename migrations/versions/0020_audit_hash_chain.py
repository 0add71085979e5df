"""The audit log as a hash chain: each row carries its position, the previous row's hash and
its own, computed by the database in the transaction that inserts it

Revision ID: 0020
Revises: 0017
Create Date: 2026-12-07

Written from geo/db/schema.py (table ``audit_log``); the functions and the trigger by hand.
The canonical form of a row and the hash are defined in app/security/audit_chain.py, which
recomputes them independently of these functions to verify the chain (``foncier audit
verify``). A row's hash is ``sha256(prev_hash || canonical)`` in lowercase hex, the first
row's ``prev_hash`` sixty-four zeros.

Concurrent writers are serialised by a transaction-scoped advisory lock taken in the insert
trigger: the head read after the lock is the last committed row, so two rows never claim the
same predecessor (``seq`` is unique as a second guard, should a caller read under an older
snapshot). The lock is held from the audit insert to the commit, the last step of every
audited write. Existing rows are chained in id order.
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# The advisory lock key of the chain's head (an arbitrary constant: "audit" in hex-speak).
_HEAD_LOCK = 0xA0D17

_CANONICAL = """
CREATE FUNCTION foncier_audit_canonical(r audit_log) RETURNS text
LANGUAGE sql STABLE STRICT AS $$
    SELECT '{"action":' || to_json(r.action)::text
        || ',"actor":' || to_json(r.actor)::text
        || ',"after":' || coalesce(r.after::text, 'null')
        || ',"at":' || to_json(to_char(r.at AT TIME ZONE 'UTC',
                                        'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text
        || ',"before":' || coalesce(r.before::text, 'null')
        || ',"id":' || r.id::text
        || ',"object_id":' || coalesce(to_json(r.object_id)::text, 'null')
        || ',"object_type":' || to_json(r.object_type)::text
        || ',"role":' || to_json(r.role)::text
        || ',"seq":' || r.seq::text
        || ',"territory":' || coalesce(to_json(r.territory)::text, 'null')
        || ',"token_id":' || coalesce(r.token_id::text, 'null')
        || '}'
$$
"""

_HASH = """
CREATE FUNCTION foncier_audit_hash(prev_hash text, r audit_log) RETURNS text
LANGUAGE sql STABLE STRICT AS $$
    SELECT encode(sha256(convert_to(prev_hash || foncier_audit_canonical(r), 'UTF8')), 'hex')
$$
"""

_CHAIN = f"""
CREATE FUNCTION foncier_audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head record;
BEGIN
    PERFORM pg_advisory_xact_lock({_HEAD_LOCK});
    SELECT seq, hash INTO head FROM audit_log ORDER BY seq DESC LIMIT 1;
    NEW.seq := coalesce(head.seq, 0) + 1;
    NEW.prev_hash := coalesce(head.hash, repeat('0', 64));
    NEW.hash := foncier_audit_hash(NEW.prev_hash, NEW);
    RETURN NEW;
END $$
"""

_BACKFILL = """
DO $$
DECLARE
    r audit_log;
    prev text := repeat('0', 64);
BEGIN
    FOR r IN SELECT * FROM audit_log ORDER BY seq LOOP
        UPDATE audit_log SET prev_hash = prev, hash = foncier_audit_hash(prev, r)
        WHERE id = r.id
        RETURNING hash INTO prev;
    END LOOP;
END $$
"""


def upgrade() -> None:
    op.execute("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE")
    op.add_column("audit_log", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("audit_log", sa.Column("hash", sa.String(length=64), nullable=True))
    op.execute(_CANONICAL)
    op.execute(_HASH)
    # The existing rows are chained here, the only time the log is rewritten.
    op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    op.execute(
        "UPDATE audit_log SET seq = o.n"
        " FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM audit_log) AS o"
        " WHERE audit_log.id = o.id"
    )
    op.execute(_BACKFILL)
    op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    for column in ("seq", "prev_hash", "hash"):
        op.alter_column("audit_log", column, nullable=False)
    op.create_unique_constraint("audit_log_seq_key", "audit_log", ["seq"])
    op.execute(_CHAIN)
    op.execute(
        "CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log"
        " FOR EACH ROW EXECUTE FUNCTION foncier_audit_chain()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_log_chain ON audit_log")
    op.execute("DROP FUNCTION foncier_audit_chain()")
    op.execute("DROP FUNCTION foncier_audit_hash(text, audit_log)")
    op.execute("DROP FUNCTION foncier_audit_canonical(audit_log)")
    op.drop_constraint("audit_log_seq_key", "audit_log", type_="unique")
    for column in ("hash", "prev_hash", "seq"):
        op.drop_column("audit_log", column)

"""The PostgreSQL runtime role: what the application's database login may do, granted by the tables' owner.

Production uses two roles. The owner runs migrations: it owns the tables and the append-only triggers, and only
it may use the triggers' maintenance bypass. The application (web, worker, beat) connects as a runtime role that
may read and write ordinary tables but only INSERT and SELECT audit entries, checkpoints and anchors, so the
database refuses an edit of the log even before the trigger does. The audit head row is UPDATEd by every append
(it holds the chain's tip and serialises appends), so the runtime role may update it, but never delete it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.utils import CursorWrapper

from compliance.models import Anchor, AuditEntry, AuditHead, Checkpoint

DML = ("SELECT", "INSERT", "UPDATE", "DELETE")


class RuntimeRoleError(Exception):
    """The runtime privileges cannot be granted as asked (wrong database, role or connected user)."""


def table_privileges() -> dict[str, tuple[str, ...]]:
    """Tables whose runtime privileges differ from full DML, and what the runtime role may do on them."""
    append_only = {model._meta.db_table: ("SELECT", "INSERT") for model in (AuditEntry, Checkpoint, Anchor)}
    return {
        **append_only,
        AuditHead._meta.db_table: ("SELECT", "INSERT", "UPDATE"),  # INSERT: locked_head rebuilds a lost head row
        "django_migrations": ("SELECT",),  # the application never migrates
    }


def grant_runtime_privileges(role: str, *, using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Give ``role`` exactly the runtime privileges on the current schema's tables; returns the statements run.

    Idempotent: every table's privileges for the role are revoked and granted afresh, so running it after each
    migration also corrects anything granted by hand. Must run as the tables' owner (the migration role).
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        raise RuntimeRoleError(f"database roles exist only on PostgreSQL, not {connection.vendor}")
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_schema(), current_database(), current_user, "
            "(SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = %s), "
            "(SELECT pg_catalog.pg_get_userbyid(relowner) FROM pg_catalog.pg_class "
            " WHERE oid = to_regclass(%s))",
            [role, AuditEntry._meta.db_table],
        )
        schema, database, me, role_is_superuser, owner = cursor.fetchone()
        _refuse_unsafe(cursor, role=role, role_is_superuser=role_is_superuser, owner=owner, me=me)
        cursor.execute("SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = %s ORDER BY tablename", [schema])
        tables = [name for (name,) in cursor.fetchall()]
        statements = runtime_grant_statements(
            role=quote(role),
            schema=quote(schema),
            database=quote(database),
            owner=quote(me),
            tables=tables,
            quote=quote,
        )
        for statement in statements:
            cursor.execute(statement)
    return statements


def _refuse_unsafe(
    cursor: CursorWrapper, *, role: str, role_is_superuser: bool | None, owner: str | None, me: str
) -> None:
    """The runtime role must be an ordinary role that neither owns the audit tables nor can become their owner."""
    if role_is_superuser is None:
        raise RuntimeRoleError(f"there is no database role {role!r}")
    if owner is None:
        raise RuntimeRoleError("the audit tables do not exist yet: run migrate first")
    if owner != me:
        raise RuntimeRoleError(f"run this as the audit tables' owner {owner!r}, not as {me!r}")
    # MEMBER, not USAGE: a member without INHERIT can still SET ROLE to the owner and use the bypass.
    cursor.execute("SELECT pg_catalog.pg_has_role(%s, %s, 'MEMBER')", [role, owner])
    if cursor.fetchone()[0]:
        raise RuntimeRoleError(f"{role!r} is, or is a member of, the tables' owner {owner!r}; use a separate role")
    if role_is_superuser:
        raise RuntimeRoleError(f"{role!r} is a superuser; the runtime role must be an ordinary role")


def runtime_grant_statements(
    *, role: str, schema: str, database: str, owner: str, tables: list[str], quote: Callable[[str], str]
) -> list[str]:
    """SQL granting the runtime privileges (identifiers already quoted, except ``tables``)."""
    special = table_privileges()
    statements = [
        # CONNECT to log in, TEMPORARY for ingestion's COPY staging tables; never CREATE.
        f"GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {role}",
        f"GRANT USAGE ON SCHEMA {schema} TO {role}",
        f"REVOKE CREATE ON SCHEMA {schema} FROM {role}",
    ]
    for table in tables:
        name = f"{schema}.{quote(table)}"
        statements.append(f"REVOKE ALL ON TABLE {name} FROM {role}")
        statements.append(f"GRANT {', '.join(special.get(table, DML))} ON TABLE {name} TO {role}")
    statements += [
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
        # Tables a later migration adds get ordinary DML until this runs again (compose runs it after migrate);
        # a new audit table is still guarded by its trigger, which refuses every non-owner.
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} GRANT {', '.join(DML)} ON TABLES TO {role}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {role}",
    ]
    return statements

"""Only the audit tables' owner may use the maintenance bypass of the append-only triggers (PostgreSQL only).

0002's trigger let any session that set ``fairlens.audit_maintenance = 'on'`` through, and any role may set a
custom setting: a runtime role that held UPDATE on the table could change entries. Now the bypass also requires
that the role the statement runs as (``current_user``) owns the table. The owner runs migrations and test
teardown; the application connects as a separate runtime role (``manage.py grant_runtime_role``) that is
refused even with the setting on. An owner or superuser can still drop the triggers: the hash chain, signatures
and external anchors are what make such changes detectable.
"""

from django.db import migrations

# current_user, not session_user: privileges follow the current role, so an operator who logs in as themselves
# and SET ROLEs to the owner may maintain, and an owner who SET ROLEs to the runtime role may not.
OWNER_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION fairlens_forbid_audit_change() RETURNS trigger AS $$
BEGIN
    IF current_setting('fairlens.audit_maintenance', true) = 'on'
       AND EXISTS (
           SELECT 1 FROM pg_catalog.pg_class AS c
           WHERE c.oid = TG_RELID AND pg_catalog.pg_get_userbyid(c.relowner) = current_user
       ) THEN
        IF TG_LEVEL = 'STATEMENT' THEN RETURN NULL; END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit records are append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

# 0002's body, restored when this migration is reversed.
ANY_ROLE_FUNCTION = """
CREATE OR REPLACE FUNCTION fairlens_forbid_audit_change() RETURNS trigger AS $$
BEGIN
    IF current_setting('fairlens.audit_maintenance', true) = 'on' THEN
        IF TG_LEVEL = 'STATEMENT' THEN RETURN NULL; END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit records are append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def owner_only(apps, schema_editor):  # noqa: ANN001 - migration signature
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(OWNER_ONLY_FUNCTION, params=None)  # None: the % in RAISE is not a placeholder


def any_role(apps, schema_editor):  # noqa: ANN001 - migration signature
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ANY_ROLE_FUNCTION, params=None)


class Migration(migrations.Migration):
    dependencies = [("compliance", "0002_audit_head_and_append_only")]

    operations = [migrations.RunPython(owner_only, any_role)]

"""The schema in ``_schema.py`` and the one the migrations build are the same."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from loopline.store import Store
from loopline.store._engine import _alembic_config
from loopline.store._schema import SCHEMA_REVISION, VERSION_TABLE, metadata


def test_migrations_build_the_declared_schema(store: Store) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        assert compare_metadata(context, metadata) == []


def test_every_declared_table_and_index_exists(store: Store) -> None:
    inspector = sa.inspect(store.engine)
    assert set(inspector.get_table_names()) == {*metadata.tables, VERSION_TABLE}
    for table in metadata.sorted_tables:
        declared = {index.name for index in table.indexes}
        assert declared <= {i["name"] for i in inspector.get_indexes(table.name)}, table.name


def test_schema_revision_is_the_single_head() -> None:
    script = ScriptDirectory.from_config(_alembic_config())
    assert script.get_heads() == [SCHEMA_REVISION]
    assert [rev.revision for rev in script.walk_revisions()][-1] == "0001"

"""Alembic environment: migrations run on the connection the store hands over."""

from alembic import context

from loopline.store._schema import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    version_table=VERSION_TABLE,
)
context.run_migrations()

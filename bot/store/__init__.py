"""Storage: SQLModel tables, engine/session helpers and the repository (the one reader of the book);
the Alembic scripts that create and upgrade the schema live in ``bot/migrations``."""

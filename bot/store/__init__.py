"""Storage: SQLModel tables, Alembic migrations, engine/session helpers and the repository."""

"""CLI command modules; each exposes `register(app)` and is registered at the end of bot/cli.py."""

"""Rendering results for people (rich tables) and machines (JSON)."""

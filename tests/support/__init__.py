"""Test support: data generators shared by tests."""

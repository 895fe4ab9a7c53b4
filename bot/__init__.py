"""covbot: covenant monitoring for compute-backed loans."""

__version__ = "0.1.0"

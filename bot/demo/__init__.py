"""The demo portfolio: realistic CSV files for `covbot import bot/demo/portfolio` (see README.md)."""

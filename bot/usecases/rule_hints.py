"""Warnings about a rule set that need the stored book: facility types no facility has."""

from __future__ import annotations

from bot.errors import Problem
from bot.rulefiles.facility_types import unknown_facility_types


def facility_type_warnings(stored: set[str] | None, rules_path: str) -> list[Problem]:
    """Facility types in ``applies_to`` that no stored facility has (none without a stored book;
    ``stored`` comes from ``bot.bootstrap.App.stored_facility_types``)."""
    if not stored:
        return []
    return unknown_facility_types(rules_path, stored)

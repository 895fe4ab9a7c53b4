"""Alerts: the pure lifecycle of one covenant at one facility, waivers, grouping for delivery."""

from bot.alerts.grouping import DEFAULT_GROUP_THRESHOLD, Group, group_for_delivery
from bot.alerts.lifecycle import EVENT_KINDS, STATES, AlertEvent, AlertState, advance
from bot.alerts.waivers import Waiver, make_waiver, waiver_problems

__all__ = [
    "AlertEvent", "AlertState", "DEFAULT_GROUP_THRESHOLD", "EVENT_KINDS", "Group", "STATES",
    "Waiver", "advance", "group_for_delivery", "make_waiver", "waiver_problems",
]

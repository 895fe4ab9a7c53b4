"""Grouping for delivery: many events for one route in one evaluation go as one message.

A portfolio-wide price move can put dozens of facilities in breach at once; one message per
alert would bury the channel. Above ``threshold`` events per route, they travel together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bot.alerts.lifecycle import AlertEvent

DEFAULT_GROUP_THRESHOLD = 10
T = TypeVar("T")


@dataclass(frozen=True)
class Group:
    """One message to send: a route (``#channel``, channel id or e-mail) and its events."""

    route: str
    events: tuple[AlertEvent, ...]

    @property
    def grouped(self) -> bool:
        return len(self.events) > 1


def group_for_delivery(
    events_by_route: Mapping[str, Sequence[AlertEvent]], threshold: int = DEFAULT_GROUP_THRESHOLD
) -> list[Group]:
    """Messages to send, route by route in the mapping's order.

    Only events with ``notify`` set are delivered (the rest belong to the audit trail). A route
    with more than ``threshold`` of them gets one grouped message; otherwise one message each.
    """
    groups: list[Group] = []
    for route, events in events_by_route.items():
        groups.extend(Group(route, tuple(part)) for part in split_for_delivery([e for e in events if e.notify], threshold))
    return groups


def split_for_delivery(items: Sequence[T], threshold: int = DEFAULT_GROUP_THRESHOLD) -> list[list[T]]:
    """The messages for one route's items (all to be sent): one group above ``threshold``, else one each."""
    if threshold < 1:
        raise ValueError(f"the grouping threshold must be at least 1, got {threshold}")
    return [list(items)] if len(items) > threshold else [[item] for item in items]

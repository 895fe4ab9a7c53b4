"""Who may do what from Slack: approvers act (acknowledge, waive), readers read.

``COVBOT_SLACK_APPROVERS`` and ``COVBOT_SLACK_READERS`` are comma-separated Slack user ids and/or
e-mail addresses; ``*`` means anyone who can reach the app. Approvers unset: nobody may act from
Slack. Readers unset: ``*``. An approver may also read. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SlackUser:
    """The person behind a request: the Slack user id, and the e-mail from ``users.info``."""

    id: str
    email: str | None = None

    @property
    def actor(self) -> str:
        """How the audit trail names them: e-mail and Slack id."""
        return f"{self.email} (Slack {self.id})" if self.email else f"slack:{self.id} (no e-mail in Slack)"

    @property
    def by(self) -> str:
        """The waiver's ``by``: the e-mail, or ``slack:<user id>`` when Slack has none."""
        return self.email or f"slack:{self.id}"


def _entries(text: str | None) -> frozenset[str]:
    items = (part.strip() for part in (text or "").split(","))
    return frozenset(item.lower() if "@" in item else item for item in items if item)


@dataclass(frozen=True)
class Access:
    approvers: frozenset[str]
    readers: frozenset[str]

    @classmethod
    def from_settings(cls, approvers: str | None, readers: str | None) -> "Access":
        parsed_readers = _entries(readers)
        return cls(_entries(approvers), parsed_readers if readers is not None and readers.strip() else frozenset("*"))

    @staticmethod
    def _listed(entries: frozenset[str], user: SlackUser) -> bool:
        if "*" in entries:
            return True
        return user.id in entries or (user.email is not None and user.email.lower() in entries)

    def may_act(self, user: SlackUser) -> bool:
        return self._listed(self.approvers, user)

    def may_read(self, user: SlackUser) -> bool:
        return self._listed(self.readers, user) or self.may_act(user)

    def needs_email(self) -> bool:
        """Whether deciding needs the user's e-mail (some entry is an address)."""
        return any("@" in e for e in self.approvers | self.readers)

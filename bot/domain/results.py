"""The outcome of evaluating one covenant at one facility on one test date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal, get_args

from bot.domain.decimals import to_text
from bot.domain.thresholds import Threshold

Status = Literal["ok", "warning", "breach", "no_data"]
STATUSES: tuple[Status, ...] = get_args(Status)
# How bad a status is, for --fail-on and escalation: ok < warning < no_data? No: DOMAIN.md
# `--fail-on breach|warning` exits 3 "when any status is that bad or worse"; no_data is treated
# as worse than warning and better than breach (missing data must never pass as ok).
SEVERITY_ORDER: dict[Status, int] = {"ok": 0, "warning": 1, "no_data": 2, "breach": 3}
STATUSES_BY_SEVERITY: tuple[Status, ...] = tuple(sorted(SEVERITY_ORDER, key=SEVERITY_ORDER.__getitem__))  # index = severity


@dataclass(frozen=True, slots=True)  # hundreds of thousands at once in the daily job
class CovenantResult:
    facility_id: str
    covenant_id: str
    metric: str
    as_of: date
    value: Decimal | None
    threshold: Threshold
    status: Status
    headroom: Decimal | None
    reason: str | None
    months_to_breach: int | None = None
    rental_deflation: Decimal | None = None  # the yearly rate behind months_to_breach (not in the JSON)

    def as_json(self) -> dict[str, object]:
        """The documented `covbot check --format json` object."""
        return {
            "facility_id": self.facility_id,
            "covenant_id": self.covenant_id,
            "metric": self.metric,
            "value": to_text(self.value),
            "threshold": str(self.threshold),
            "status": self.status,
            "headroom": to_text(self.headroom),
            "reason": self.reason,
            "months_to_breach": self.months_to_breach,
        }

"""What the service tests share: a one-covenant rule file and polling for a condition."""

from __future__ import annotations

import time

# Every facility with anything outstanding breaches it, so an evaluation always has alerts to send.
ONE_COVENANT_RULES = """\
covenants:
  - id: max-outstanding
    metric: outstanding
    must_be: "<= 1"
    severity: high
    notify: {slack: ["#credit-alerts"]}
"""


def wait_for(predicate, timeout: float = 15.0, what: str = "condition"):
    """Poll ``predicate`` every 0.1 s until it returns something truthy (returned), or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")

"""`covbot stress` beside `covbot fire-sale` on the same book, the same scenario (issue 14).

Both run as the user runs them (a subprocess each, JSON to a file) under the correlation-convergence
scenario of bench/rules/scenarios.yaml. Target: fire-sale ≤ 2× stress (the fire sale evaluates every
covenant under the scenario to find who is foreclosed, then prices the sellers' lots in one market).
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.generate import AS_OF

SCENARIO = "correlation-convergence"
TARGET_FIRE_SALE_OVER_STRESS = 2.0


def bench_risk(measure, covbot, rules: Path, env: dict, workdir: Path, n: int) -> dict:
    out = {}
    for command in ("stress", "fire-sale"):
        target = workdir / f"{command}-{n}.json"
        with target.open("wb") as handle:
            result = measure(covbot(command, "--rules", str(rules), "--as-of", AS_OF.isoformat(),
                                    "--scenario", SCENARIO, "--format", "json"), env, stdout=handle)
        with target.open() as handle:
            result["rows"] = len(json.load(handle))
        target.unlink()
        out[command.replace("-", "_")] = result
    out["fire_sale_over_stress"] = round(out["fire_sale"]["seconds"] / out["stress"]["seconds"], 2)
    return out

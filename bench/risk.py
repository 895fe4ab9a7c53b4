"""`covbot stress` beside `covbot fire-sale` on the same book, the same scenario (issue 14).

Both run as the user runs them (a subprocess each, JSON to a file) under the correlation-convergence
scenario of bench/rules/scenarios.yaml. Target: fire-sale ≤ 2× stress (the fire sale evaluates every
covenant under the scenario to find who is foreclosed, then prices the sellers' lots in one market).
"""

from __future__ import annotations

from pathlib import Path

from bench.child import in_child, json_rows
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
        result["rows"] = in_child(json_rows, target)  # parsed elsewhere: the runner stays small
        target.unlink()
        out[command.replace("-", "_")] = result
    out["fire_sale_over_stress"] = round(out["fire_sale"]["seconds"] / out["stress"]["seconds"], 2)
    return out

"""Benchmark of `covbot import` and `covbot check` at scale, against a bare-SQL floor (issue 7).

    python -m bench.generate DIR --facilities N     a synthetic portfolio in the CSV contract
    python -m bench.run [--quick] [--sizes ...]     the whole benchmark, results in bench/results/
"""

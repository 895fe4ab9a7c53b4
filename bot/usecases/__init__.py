"""Use cases: what the command line and the daemon call, each a plain function over the engine,
the rule set and the test date it is handed (``bot.bootstrap`` builds those).

evaluate (the one evaluation path) · check (+ check_pool) · explain · imports · notify · stress ·
backtest · digest · ruletests · waive
"""

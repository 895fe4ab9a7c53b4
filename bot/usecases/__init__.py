"""Use cases: what the command line and the daemon call (check, stress, back-test, rule tests)."""

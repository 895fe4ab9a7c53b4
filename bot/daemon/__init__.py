"""The long-running service `covbot run`: scheduled jobs that only call use cases.

    tables      slots, job records, instances and the leader row (migration 0003_service)
    slots       which scheduled slot is due, and claiming it once across restarts
    leader      who may act: PostgreSQL advisory lock (HA) or a lock file (SQLite)
    rules_watch hot reload of the rule files; a bad set is refused and reported once
    inbox       CSV drops imported all-or-nothing, then evaluated
    jobs        the work of each job (evaluate, digest, dispatch, inbox)
    scheduler   APScheduler wiring, graceful stop
    status      the data of `covbot status`
    metrics     optional Prometheus metrics and /healthz
    logging     text or JSON logs
"""

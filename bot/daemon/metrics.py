"""Optional Prometheus metrics and a health check, served on 127.0.0.1:--metrics-port.

    GET /metrics   Prometheus text format (a registry of this instance only)
    GET /healthz   200 {"ok": true, "leader": ...} while the scheduler runs, else 503
"""

from __future__ import annotations

import errno
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.errors import CovbotError, UsageError


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.evaluations = Counter("covbot_evaluations", "Evaluations run by the service, by outcome.",
                                   ["outcome"], registry=r)
        self.duration = Histogram("covbot_evaluation_duration_seconds", "Time one evaluation took.",
                                  registry=r, buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300))
        self.statuses = Gauge("covbot_covenant_results", "Results of the latest evaluation, by covenant and status.",
                              ["covenant_id", "status"], registry=r)
        self.notifications = Counter("covbot_notifications", "Notifications by result (sent or failed).",
                                     ["result"], registry=r)
        self.outbox = Gauge("covbot_outbox_messages", "Outbox messages by state (queued, retry, dead, ...).",
                            ["state"], registry=r)
        self.leader = Gauge("covbot_leader", "1 while this instance is the leader.", registry=r)
        self.job_errors = Counter("covbot_job_errors", "Failed job runs, by job.", ["job"], registry=r)

    def evaluated(self, counts: Mapping[tuple[str, str], int], seconds: float) -> None:
        """One evaluation done: ``counts`` of (covenant_id, status)."""
        self.evaluations.labels("ok").inc()
        self.duration.observe(seconds)
        self.statuses.clear()
        for (covenant_id, status), n in counts.items():
            self.statuses.labels(covenant_id, status).set(n)

    def evaluation_failed(self) -> None:
        self.evaluations.labels("failed").inc()

    def dispatched(self, report) -> None:
        if report is None:
            return
        self.notifications.labels("sent").inc(report.delivered)
        self.notifications.labels("failed").inc(report.retrying + report.dead)

    def outbox_depth(self, counts: dict[str, int]) -> None:
        for state, n in counts.items():
            self.outbox.labels(state).set(n)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def serve(metrics: ServiceMetrics, port: int, health: Callable[[], dict]) -> ThreadingHTTPServer:
    """Start the endpoint in a daemon thread on 127.0.0.1; ``server.shutdown()`` stops it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._reply(200, metrics.exposition(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                state = health()
                self._reply(200 if state.get("ok") else 503, json.dumps(state).encode(), "application/json")
            else:
                self._reply(404, b"not found\n", "text/plain")

        def _reply(self, code: int, body: bytes, ctype: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # keep scrapes out of the logs
            pass

    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    except OverflowError:
        raise UsageError(f"--metrics-port must be a port number from 1 to 65535, got {port}.") from None
    except OSError as exc:
        why = "is in use by another program" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
        raise CovbotError(f"covbot cannot serve metrics: port {port} on 127.0.0.1 {why}; "
                          "choose another --metrics-port.") from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="covbot-metrics", daemon=True).start()
    return server

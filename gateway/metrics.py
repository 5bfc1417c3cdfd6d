"""Prometheus metrics: module-level objects in the default registry (they do not connect).

Use: `USSD_HOPS.labels(outcome="continue").inc()`, `with USSD_HOP_SECONDS.time(): ...`,
`WEBHOOK_REJECTIONS.labels(reason="missing sessionId").inc()`,
`RUNS_PERSISTED.labels(status="completed").inc()`. Keep label values to a small fixed set.
"""

from prometheus_client import REGISTRY, Counter, Histogram

__all__ = [
    "DELIVERY_REPORTS", "REGISTRY", "RUNS_PERSISTED", "SMS_INBOUND", "USSD_HOPS",
    "USSD_HOP_SECONDS", "WEBHOOK_REJECTIONS", "count_hop",
]

USSD_HOPS = Counter(
    "gateway_ussd_hops",
    "USSD hops answered, by outcome (continue, end, replay, unavailable, error, redis_down, "
    "rate_limited: a session start over ussd.per_number_starts_per_minute).",
    ["outcome"],
)
USSD_HOP_SECONDS = Histogram(
    "gateway_ussd_hop_seconds",
    "Time to answer one USSD hop; Africa's Talking gives up after 10 s.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
WEBHOOK_REJECTIONS = Counter(
    "gateway_webhook_rejections",
    "Provider webhooks refused with a 4xx, by reason.",
    ["reason"],
)
RUNS_PERSISTED = Counter(
    "gateway_runs_persisted",
    "Finished flow runs written to the SQL database, by status (completed, incomplete, failed).",
    ["status"],
)
SMS_INBOUND = Counter(
    "gateway_sms_inbound",
    "Inbound SMS webhooks, by outcome (processed, duplicate, rate_limited: over the sender's "
    "sms.per_number_per_minute, dropped unanswered; redis_down, database_down, error).",
    ["outcome"],
)
DELIVERY_REPORTS = Counter(
    "gateway_delivery_reports",
    "Delivery reports, by outcome (applied, unchanged, unknown_message, unknown_status, "
    "database_down).",
    ["outcome"],
)


_hop_counters: dict[str, Counter] = {}


def count_hop(outcome: str) -> None:
    """`USSD_HOPS.labels(outcome=outcome).inc()`, with the labelled counter looked up once
    (`labels` takes a lock and checks its arguments on every call; every hop counts)."""
    counter = _hop_counters.get(outcome)
    if counter is None:
        counter = _hop_counters[outcome] = USSD_HOPS.labels(outcome=outcome)
    counter.inc()

"""The pizza house's alerts: the core's (a message stored as failed, a consumer whose heartbeat
stopped, a queue that keeps growing) and its own, a visit stuck past its step's deadline; each
consumer looks for them between batches (see messaging.Alerting)."""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from pizzeria.bootstrap import App
from pizzeria.messaging import (
    SYSTEM,
    Alert,
    Alerting,
    Source,
    Webhook,
    admin,
    failed_messages_source,
    gone_consumers_source,
    growing_queues_source,
)
from pizzeria.process_manager import views


def stuck_visits_source(app: App) -> Source:
    """An alert for each visit stuck at a stage (see views.stuck): once per visit and stage."""
    def find(now: float) -> Iterable[Alert]:
        for report in views.stuck(app.engine, now, app.settings.step_deadline_seconds):
            yield Alert("visit_stuck", f"visit_stuck:{report['visit_id']}:{report['stage']}", report["visit_id"],
                        f"the visit of table {report['table_id']} is stuck at {report['stage']} for "
                        f"{report['waited_seconds']:g}s", details={"table_id": report["table_id"],
                                                                  "stage": report["stage"]})
    return find


def sources(app: App) -> list[Source]:
    """Every source of the house's alerts."""
    def depths() -> dict[str, int]:
        return {name: depth["messages"] or 0 for name, depth in admin.queue_depths(app.broker).items()}
    return [failed_messages_source(app.engine), gone_consumers_source(app.engine),
            growing_queues_source(depths, app.settings.alert_queue_growth_seconds), stuck_visits_source(app)]


def alerting(app: App) -> list[Alerting]:
    """The alerting middleware of a consumer, with the webhook if one is set; none if turned off."""
    settings = app.settings
    if not settings.alert_check_seconds:
        return []
    webhook = Webhook(settings.alert_webhook, settings.alert_webhook_per_minute) if settings.alert_webhook else None
    return [Alerting(app.engine, sources(app), structlog.get_logger("pizzeria.alerts"), SYSTEM, webhook,
                     settings.alert_check_seconds)]

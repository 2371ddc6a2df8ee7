"""One-line explanations of the failures a user can meet, with passwords hidden."""

from __future__ import annotations

from pizzeria.messaging.admin import hide_password


def explain(error: BaseException) -> tuple[str, int]:
    """A one-line message and an exit code for `error`."""
    from kombu.exceptions import OperationalError as BrokerError
    from sqlalchemy.exc import DBAPIError

    from pizzeria.config import ConfigError, Settings
    from pizzeria.messaging import TopologyMismatch
    from pizzeria.process_manager.service import NotInProgress, TableBusy

    if isinstance(error, ConfigError):
        return str(error), 2
    if isinstance(error, (TableBusy, NotInProgress)):
        return str(error), 1
    settings = Settings.from_env()
    if isinstance(error, TopologyMismatch):
        return (f"the broker has the queues declared otherwise ({error}); PIZZERIA_QUEUE_TYPE="
                f"{settings.queue_type}: set it to what the queues are, or migrate them: stop the "
                "consumers, let the queues empty, delete them (rabbitmqctl delete_queue NAME) and run "
                "pizzeria init again"), 1
    if isinstance(error, DBAPIError):
        return f"cannot use the database at {hide_password(settings.database_url)}: {_first_line(error.orig)}", 1
    if isinstance(error, (BrokerError, OSError)):
        return f"cannot reach the broker at {hide_password(settings.broker_url)}: {_first_line(error)}", 1
    return hide_password(f"{type(error).__name__}: {_first_line(error)}"), 1


def _first_line(error: object) -> str:
    return hide_password(str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__)

"""Every table of the core, on one `metadata`: the inbox, the answers kept, the poison counts,
the outbox, the failed store and its edits, the heartbeats, the alerts raised and the breakers' changes. Their
names and columns are those of existing databases: change them only with a migration."""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, LargeBinary, MetaData, String, Table, Text

from .engine import on_sqlite

metadata = MetaData()

inbox = Table(
    "inbox", metadata,
    Column("consumer", String(64), primary_key=True),
    Column("message_id", String(64), primary_key=True),
    Column("handled_at", Float, nullable=False, index=True),  # when its handling committed
    Column("started_at", Float, nullable=True),  # when the handler of the try that committed started
    Column("process", String(128), nullable=True),
    Column("attempt", Integer, nullable=True),
    Column("last_error", String(255), nullable=True),  # of the try before, if one failed
    Column("duplicates", Integer, nullable=True),
)

replies = Table(
    "replies", metadata,
    Column("consumer", String(64), primary_key=True),
    Column("message_id", String(64), primary_key=True),  # the command answered
    Column("position", Integer, primary_key=True),
    Column("routing_key", String(255), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("recorded_at", Float, nullable=False, index=True),
)

redelivered_starts = Table(
    "redelivered_starts", metadata,
    Column("consumer", String(64), primary_key=True),
    Column("message_id", String(64), primary_key=True),
    Column("started", Integer, nullable=False),  # redeliveries started, this one included
    Column("last_started_at", Float, nullable=False, index=True),
)

outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(64), nullable=False, index=True),  # a delayed message is taken back by it
    Column("exchange", String(255), nullable=True),  # None: the topology's exchange
    Column("routing_key", String(255), nullable=False),
    Column("headers", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("not_before", Float, nullable=False, index=True),
    Column("claimed_until", Float, nullable=True),
)
# Ids are never used again: a relay deletes the rows it published by id, and a row it
# published may meanwhile have been published and deleted by another relay (its lease
# over), its id taken by a new row, which SQLite would otherwise do.
on_sqlite(outbox, autoincrement=True)

failed_messages = Table(
    "failed_messages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("queue", String(255), nullable=False),
    Column("message_id", String(64), nullable=True),
    Column("type", String(64), nullable=True),
    Column("correlation_id", String(64), nullable=True, index=True),
    Column("headers", Text, nullable=False),
    Column("content_type", String(255), nullable=True),
    Column("body", LargeBinary, nullable=False),
    Column("error_type", String(255), nullable=False),
    Column("error", Text, nullable=False),
    Column("traceback", Text, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("first_failed_at", Float, nullable=False),
    Column("last_failed_at", Float, nullable=False),
    Column("replayed_at", Float, nullable=True),
)
on_sqlite(failed_messages, autoincrement=True)  # a replay names its entry by id: an id never names another one

failed_edits = Table(  # a failed message's body as an operator changed it; the entry keeps the original
    "failed_edits", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("failed_id", Integer, nullable=False, index=True),  # the entry of failed_messages it edits
    Column("body", LargeBinary, nullable=False),
    Column("changes", Text, nullable=False),  # JSON: {field: value} as they were set
    Column("edited_at", Float, nullable=False),
    Column("replayed_at", Float, nullable=True),  # when a replay last sent it
)
on_sqlite(failed_edits, autoincrement=True)  # a replay names its edit by id too

heartbeats = Table(
    "heartbeats", metadata,
    Column("process", String(128), primary_key=True),  # host:pid, as the inbox names it
    Column("queues", String(255), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("seen_at", Float, nullable=False),
    Column("handled", Integer, nullable=False),
    Column("stopped_at", Float, nullable=True),
)

alerts = Table(
    "alerts", metadata,
    Column("key", String(255), primary_key=True),  # what makes it one alert, however many processes see it
    Column("kind", String(32), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("summary", Text, nullable=False),
    Column("count", Integer, nullable=False),  # how many times it happened, as last seen
    Column("details", Text, nullable=False),  # JSON
    Column("raised_at", Float, nullable=False, index=True),
    Column("updated_at", Float, nullable=False),
    Column("posted_at", Float, nullable=True),  # to the webhook, once it answered 2xx
    Column("post_attempts", Integer, nullable=False),
    Column("next_post_at", Float, nullable=True),  # when a process may try (again): a lease while one tries
    Column("post_error", String(255), nullable=True),
)

breaker_changes = Table(
    "breaker_changes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("process", String(128), nullable=False),  # host:pid, as the heartbeats name it
    Column("queue", String(255), nullable=False),
    Column("state", String(16), nullable=False),  # closed, open or half-open
    Column("at", Float, nullable=False, index=True),
    Column("tries", Integer, nullable=False),  # in the window, when it changed
    Column("failed", Integer, nullable=False),
    Column("reason", String(255), nullable=True),  # the last error, when it opened
)
on_sqlite(breaker_changes, autoincrement=True)

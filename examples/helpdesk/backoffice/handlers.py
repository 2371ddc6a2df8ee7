"""The backoffice's handler: open a ticket for an issue, correlated with it."""

from __future__ import annotations

from pizzeria.messaging import Handler, HandlerContext

from .domain import open_ticket
from .messages import OpenTicket, TicketOpened


def open_ticket_for(command: OpenTicket, context: HandlerContext) -> None:
    """Open a ticket for the issue, in the issue's correlation, and publish `TicketOpened`. The
    command's id derives from the issue, so a copy of it is dropped by the inbox: one ticket each."""
    ticket_id = open_ticket(context.db, command.issue_id, context.envelope.correlation_id, command.summary,
                            context.clock.time())
    context.send(TicketOpened(command.issue_id, ticket_id))


HANDLERS: dict[type, Handler] = {OpenTicket: open_ticket_for}

"""The customer service's handlers: record a reported issue, publish that it was reported, ask
the backoffice for a ticket; then note the ticket and the confirmation as they come."""

from __future__ import annotations

from pizzeria.messaging import Handler, HandlerContext

from ..backoffice.messages import OpenTicket, TicketOpened
from ..mailer.messages import ConfirmationSent
from .domain import note_confirmation, note_ticket, record_issue
from .messages import IssueReported, ReportIssue


def report_issue(command: ReportIssue, context: HandlerContext) -> None:
    """Record the issue, publish `IssueReported` to whoever subscribes (the mailer), and send
    `OpenTicket` to the backoffice, all in one commit; an issue known already is left as it is."""
    if not record_issue(context.db, command, context.clock.time()):
        return
    context.send(IssueReported(command.issue_id, command.email, command.summary))
    context.send(OpenTicket(command.issue_id, command.summary))


def ticket_opened(event: TicketOpened, context: HandlerContext) -> None:
    """Note the ticket the backoffice opened for the issue."""
    note_ticket(context.db, event.issue_id, event.ticket_id)


def confirmation_sent(event: ConfirmationSent, context: HandlerContext) -> None:
    """Note that the customer got the confirmation."""
    note_confirmation(context.db, event.issue_id, context.clock.time())


HANDLERS: dict[type, Handler] = {ReportIssue: report_issue, TicketOpened: ticket_opened,
                                 ConfirmationSent: confirmation_sent}

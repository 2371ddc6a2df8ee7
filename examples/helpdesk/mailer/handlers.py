"""The mailer's handler: confirm a reported issue to its customer, once."""

from __future__ import annotations

from pizzeria.messaging import Handler, HandlerContext

from ..customer.messages import IssueReported
from .domain import send_mail
from .messages import ConfirmationSent


def issue_reported(event: IssueReported, context: HandlerContext) -> None:
    """Mail the customer the confirmation and publish `ConfirmationSent`. While the mail server
    is down it raises: the core tries again, then keeps the message in its failed store, whence
    a replay sends it again once the server is back."""
    subject = f"We got your issue {event.issue_id}: {event.summary}"
    send_mail(context.db, event.issue_id, event.email, subject, context.clock.time())
    context.send(ConfirmationSent(event.issue_id, event.email))


HANDLERS: dict[type, Handler] = {IssueReported: issue_reported}

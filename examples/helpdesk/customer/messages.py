"""The customer service's public contract: the report of an issue, from outside, and the event
that tells whoever listens that an issue was reported."""

from __future__ import annotations

from dataclasses import dataclass

from pizzeria.messaging import Command, Contract, Event

contract = Contract("customer")
MAX_ID, MAX_EMAIL, MAX_SUMMARY = 64, 254, 200


@contract.command
@dataclass(frozen=True)
class ReportIssue(Command, unique_by=("issue_id",)):
    """A customer reports an issue; the confirmation goes to `email`."""

    issue_id: str
    email: str
    summary: str

    def __post_init__(self) -> None:
        if not 0 < len(self.issue_id) <= MAX_ID:
            raise ValueError(f"an issue id has 1 to {MAX_ID} characters")
        if self.email.count("@") != 1 or not 3 <= len(self.email) <= MAX_EMAIL:
            raise ValueError(f"{self.email!r} is not an email address")
        if not self.summary.strip() or len(self.summary) > MAX_SUMMARY:
            raise ValueError(f"a summary has 1 to {MAX_SUMMARY} characters")


@contract.event
@dataclass(frozen=True)
class IssueReported(Event):
    """An issue was reported and recorded."""

    issue_id: str
    email: str
    summary: str

"""The backoffice: opens a ticket for each issue it is asked to."""

"""The helpdesk, after Ecotone's demo of a distributed bus: a customer service takes an issue,
a mailer confirms it to the customer, a backoffice opens a ticket for it. Three modules on
`pizzeria.messaging` alone, talking through commands to a named module and published events."""

"""The pizza house on the web: an HTTP API (and, on top of it, the pages) over the same
database and broker as the command line; `pizzeria web` serves it."""

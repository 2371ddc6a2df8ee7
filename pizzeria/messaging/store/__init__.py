"""Every table of the core and what reads and writes them: inbox, outbox, answers kept, poison
counts, the failed store, heartbeats."""

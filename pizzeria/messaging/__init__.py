"""A small message-driven core: envelopes, topology, inbox, outbox, failed store, consumer.

It delivers exactly-once effects on top of at-least-once delivery and knows nothing of pizza.
"""

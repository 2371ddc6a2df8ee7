"""Brokers and publishers, the topology, headers, the consumer loop, the embedded broker on SQLite."""

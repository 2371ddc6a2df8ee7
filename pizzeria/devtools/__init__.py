"""Tools around the application, not part of it: consumer processes for the demo and the
bench, the bench itself, and private RabbitMQ and PostgreSQL servers for tests and benchmarks."""

"""What an application and the core agree on: messages and their contracts, envelopes, the codec,
modules and endpoints, names, errors, the clock."""

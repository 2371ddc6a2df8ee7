"""The customer service: takes the issues customers report, and follows each to its ticket and its confirmation."""

"""The process manager: the saga that runs each table's visit, step by step."""

"""Tamper-evident audit log: hash-chained entries with signed checkpoints."""

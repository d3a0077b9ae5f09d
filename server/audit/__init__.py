"""The audit trail: recording each change, reading and exporting the hash-chained events."""

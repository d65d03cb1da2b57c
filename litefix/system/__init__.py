"""The machine: /proc, read-only SQLite, the schema, the litestream binary."""

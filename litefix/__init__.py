"""litefix: diagnose and repair SQLite databases replicated with Litestream."""

__version__ = "0.1.0"

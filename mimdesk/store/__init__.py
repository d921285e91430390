"""The local SQLite store: migrations, the incident journal, read models, backups."""

"""State: what survives a restart.

Contract: the store owns the database (SQLite file by default): seen stories, feed validators, the
alerts and their delivery status (the outbox), feedback, and the schema's migrations. Callers get
typed values, never rows. Imports `bot.models`, `bot.errors` and the standard library only.
"""

"""Activities: every piece of I/O a journey performs (case store, outbox, calendars)."""

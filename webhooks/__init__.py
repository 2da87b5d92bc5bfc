"""Webhooks: the outbox read back (the event feed), endpoints, signed deliveries, the dispatcher.

The outbox itself is written in the database (`outbox_write`, migration 110), in the
transaction of each change, so every package writes events without importing this one.
"""

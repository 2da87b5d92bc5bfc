"""Events: the outbox read back, webhook endpoints, signed deliveries and their dispatcher.

The outbox itself is written in the database (`outbox_write`, migration 110), in the
transaction of each change, so every package writes events without importing this one.
"""

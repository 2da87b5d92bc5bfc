"""GTFS-Realtime in the gateway: per-process state, sharing through Redis, polling operators."""

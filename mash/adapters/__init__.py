"""Adapters: how the service's processes meet the outside world (Kafka, encryption keys)."""

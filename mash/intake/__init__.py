"""The intake adapter: partner agencies post contacts over HTTP; they become Kafka events."""

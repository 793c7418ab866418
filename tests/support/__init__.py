"""What the tests share: builders, Kafka reads, an in-memory Kafka, the console's pages, chaos helpers."""

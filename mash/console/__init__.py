"""The coordinator console: live queues, explainable cases and recorded decisions."""

"""The streaming worker: faust app, topics and agents. Thin: the decisions live in mash.domain."""

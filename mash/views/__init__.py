"""The read side: views each process builds by following topics (the console's queues, the intake's
ledger, the statutory figures). Pure where they can be: they take events, never read Kafka themselves."""

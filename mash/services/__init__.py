"""The use cases the faces (intake, console, command line) call: each one a few steps of reading
what the service knows, deciding with the domain, and writing events.

`submissions` (contacts and outcomes from partners, idempotent), `decisions` (a person's decision
or identity decision), `meeting` (freezing and recording the IMM), `rescreen` (a manager's
re-screening under another ruleset version) and `privacy` (erasure, retention, key rotation).
They write through the ports of mash.adapters.ports, so their tests run on an in-memory Kafka.
"""

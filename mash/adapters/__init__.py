"""Adapters: where the service's processes meet Kafka, encryption keys and the ruleset file.

Kafka: `ports` (what the service layer needs of it, as protocols), `producer` (writing records),
`follow` (reading whole topics into read-side views), `topics` (names, partitions, creation) and
`dead_letters` (records an agent could not use). Keys: `sealing` (envelope encryption), `keyring`
(the data keys) and `keys` (the keys topic). Rulesets: `ruleset_file` (the council's file in force,
re-read when `watched_file` sees it change) and `ruleset_registry` (every version used, on its
topic). The rules themselves, and every decision about a child, are in mash.domain.
"""

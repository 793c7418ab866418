"""`make bench`: how fast the service is on this machine, each figure beside a comparison.

Tooling for the people who work on the service, not part of it: the wheel and the image leave it
out, and `mash` has no command for it. It needs the development extra (the embedded broker) and
runs from the repository's root as `python -m benchmarks`.

Every measurement starts what it needs (an embedded broker, worker or intake processes
run as `python -m mash ...`, exactly as `mash dev` runs them) on topics of its own, and
reports a figure together with a comparison measured in the same run on the same broker,
so the ratio means something on a shared, noisy machine even when the absolute numbers
move. Nothing here decides pass or fail: the targets are printed beside the figures.

One module per measurement:

- `pipeline`: contacts/s through one worker (and two), against a bare aiokafka loop
  (`benchmarks.bare`) that consumes the same contacts, parses them and produces one record each,
  and against the faust floor (`benchmarks.faust_floor`): a faust agent that only parses, writes
  the table and sends one record per contact, run a second time without the table write.
- `latency`: from the intake's 202 to the case record, at a steady rate and for a burst.
- `intake`: requests/s and latency of `POST /v1/contacts` under concurrent load.
- `rules`: the pure threshold engine (`screen`) and the whole domain step (`apply`), in-process.
- `memory`: the worker's resident memory with 1,000,000 children in its table.
- `replay`: `mash replay FILE` through one worker, in contacts/s.
- `console`: from the intake's 202 to the case in an open console's live stream, and the
  console's pages with 10,000 open cases.

What they share: `settings` (keys, topics and environment of a measurement's processes),
`processes` (starting them, their CPU and memory), `records` (producing inputs, counting
outputs), `workload` (the simulated contacts), `stats`, `http` (the load generator's client)
and `profiling` (py-spy).

`runner` runs a selection (the options are in `command`); `results` holds the figures by JSON
key, `targets` the targets beside them, `table` the printed table and notes, `machine` what
it ran on.
"""

from __future__ import annotations

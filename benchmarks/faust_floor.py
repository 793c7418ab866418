"""The faust floor: faust agents that do only what faust makes each contact cost the worker.

The worker takes each contact through two agents (mash.worker.faust_app): its identities agent reads
the contacts topic (one partition), writes its table and sends the child an update on the
resolved topic, keyed by child key; its children agent reads that, writes the child's table and
sends the case record. The floor does the same with nothing in between. Its first agent parses
each contact's JSON (orjson), writes one table entry (the record's own bytes under its key, the
contact id) and sends one small record, keyed by the contact's child (its keyed NHS number, or
its names and date of birth), to the resolved topic; its second parses that, writes one table
entry under the child's key and sends one record, keyed by contact id, to the cases topic. Each
without waiting, with the worker's faust settings (`mash.worker.faust_app.new_faust_app`: the same
fetch wait, linger and serializers) and the worker's own way of writing them
(`mash.worker.output.Output`), on tables of the worker's tables' partitions. No model, no
ruleset, no derivation. The gap between the bare aiokafka loop (one hop) and this is what
faust's per-event machinery costs, twice, with the second hop; the gap between this and the
worker is what the service adds. With `MASH_BENCH_FLOOR_TABLE=0` neither agent writes a table:
the gap between the two floors is what two table writes (RocksDB and a changelog record each)
cost per contact.

Run as its own process with a worker's environment: `python -m benchmarks.faust_floor`.
"""

from __future__ import annotations

import os

import faust
import orjson
from faust.web import Request, Response, View

from mash.adapters.topics import RESOLVED, partitions
from mash.config import Settings
from mash.worker.faust_app import new_faust_app
from mash.worker.output import Output, kafka_producer

TABLE_ENV = "MASH_BENCH_FLOOR_TABLE"


def create_floor_app(settings: Settings, with_table: bool) -> faust.App:
    app = new_faust_app(f"{settings.topic_prefix}-floor", settings)
    contacts = app.topic(settings.topic("contacts"), key_type=bytes, value_type=bytes)
    resolved = app.topic(settings.topic(RESOLVED), key_type=bytes, value_type=bytes)
    resolved_name, cases = settings.topic(RESOLVED), settings.topic("cases")
    first_table = app.Table(
        f"{settings.topic_prefix}-floor-identities",
        partitions=partitions(settings, "contacts"),
        key_type=bytes,
        value_type=bytes,
    )
    second_table = app.Table(
        f"{settings.topic_prefix}-floor",
        partitions=partitions(settings, RESOLVED),
        key_type=bytes,
        value_type=bytes,
    )
    first = Output(lambda: kafka_producer(app), first_table, [resolved_name])
    second = Output(lambda: kafka_producer(app), second_table, [cases])

    @app.agent(contacts, name="floor-identities")
    async def floor_identities(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            contact = orjson.loads(event.value)
            if with_table:
                await first.save({first.where(event.message.key): event.value})
            named = contact["identifiers"]
            child = (named["nhs"] or named["name_dob"]).encode()
            update = orjson.dumps({"child": child.decode(), "contact_id": contact["contact_id"]})
            await first.publish(resolved_name, child, update)

    @app.agent(resolved, name="floor")
    async def floor(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            update = orjson.loads(event.value)
            if with_table:
                await second.save({second.where(event.message.key): event.value})
            contact_id = update["contact_id"].encode()
            await second.publish(cases, contact_id, orjson.dumps({"contact_id": update["contact_id"]}))

    @app.page("/health/ready")
    async def ready(view: View, request: Request) -> Response:
        tables: object = app.tables
        recovered = bool(tables.recovery.completed.is_set()) and not app.rebalancing  # type: ignore[attr-defined]
        return view.json({"ready": recovered}, status=200 if recovered else 503)

    return app


def main() -> None:
    app = create_floor_app(Settings(), with_table=os.environ.get(TABLE_ENV, "1") != "0")
    faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False).execute_from_commandline()


if __name__ == "__main__":
    main()

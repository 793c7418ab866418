"""The faust floor: a faust agent that does only what faust makes each contact cost the worker.

Per contact it parses the JSON (orjson), writes one table entry (the record's own bytes under
the child's key) and sends one record without waiting, with the worker's faust settings
(`mash.streams.app.new_faust_app`: the same fetch wait, linger and serializers) and the
worker's own way of writing them (`mash.streams.output.Output`). No model, no ruleset, no
derivation. The gap between the bare aiokafka loop and this is what faust's per-event
machinery costs; the gap between this and the worker is what the service adds.
With `MASH_BENCH_FLOOR_TABLE=0` it writes no table: the gap between the two floors is what
a table write (RocksDB and a changelog record) costs per contact.

Run as its own process with a worker's environment: `python -m mash.bench.faust_floor`.
"""

from __future__ import annotations

import os

import faust
import orjson
from faust.web import Request, Response, View

from mash.config import Settings
from mash.streams.app import new_faust_app
from mash.streams.output import Output, kafka_producer

TABLE_ENV = "MASH_BENCH_FLOOR_TABLE"


def create_floor_app(settings: Settings, with_table: bool) -> faust.App:
    app = new_faust_app(f"{settings.topic_prefix}-floor", settings)
    contacts = app.topic(settings.topic("contacts"), key_type=bytes, value_type=bytes)
    cases = settings.topic("cases")
    table = app.Table(
        f"{settings.topic_prefix}-floor",
        partitions=settings.topic_partitions,
        key_type=bytes,
        value_type=bytes,
    )
    output = Output(lambda: kafka_producer(app), table, [cases])

    @app.agent(contacts, name="floor")
    async def floor(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            contact = orjson.loads(event.value)
            if with_table:
                await output.save({output.where(event.message.key): event.value})
            contact_id = contact["contact_id"].encode()
            await output.publish(cases, contact_id, orjson.dumps({"contact_id": contact["contact_id"]}))

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

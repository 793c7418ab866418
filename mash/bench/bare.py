"""The floor: a bare aiokafka loop that does the least a contact pipeline can do.

It consumes the contacts topic in a consumer group of its own, parses each record's JSON
(orjson) and produces one small record per contact, keyed by contact id, to its output
topic, with the same producer batching as the worker's normal profile. It never looks at
a table, a ruleset or a model: its rate is what Python and Kafka manage on this machine,
and the pipeline's rate is reported as a share of it.

Run as its own process, like the worker: `python -m mash.bench.bare BOOTSTRAP IN OUT GROUP READY`.
It writes READY (a file) once its group has assigned it partitions, then runs until stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


async def bare_loop(bootstrap: str, source: str, target: str, group: str, ready: Path) -> None:
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=True,
        rebalance_timeout_ms=2000,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=500,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    await consumer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        ready.write_text("ready")
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100, max_records=2000)
            pending: list[asyncio.Future[Any]] = []
            for records in batches.values():
                for record in records:
                    contact = orjson.loads(record.value or b"{}")
                    value = orjson.dumps(
                        {"contact_id": contact["contact_id"], "child_key": contact["child_key"]}
                    )
                    pending.append(
                        await producer.send(target, key=contact["contact_id"].encode(), value=value)
                    )
            if pending:
                await asyncio.gather(*pending)
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("bootstrap", "source", "target", "group"):
        parser.add_argument(name)
    parser.add_argument("ready", type=Path)
    args = parser.parse_args()
    asyncio.run(bare_loop(args.bootstrap, args.source, args.target, args.group, args.ready))


if __name__ == "__main__":
    main()

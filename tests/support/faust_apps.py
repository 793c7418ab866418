"""A faust app for unit tests of the worker's pieces: finalized on the running loop, never started."""

from __future__ import annotations

import asyncio
from typing import Any

from mash.config import Settings
from mash.worker.faust_app import new_faust_app

# No broker answers here: nothing in these tests may reach Kafka.
UNREACHABLE = "127.0.0.1:1"


def unstarted_app(name: str) -> Any:
    settings = Settings(
        mode="development", child_key_secret="x", store="memory://", kafka_bootstrap=UNREACHABLE
    )
    app = new_faust_app(name, settings)
    app.loop = asyncio.get_running_loop()
    app.finalize()
    return app

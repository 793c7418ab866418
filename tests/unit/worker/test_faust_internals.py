"""faust's private parts the worker relies on are all in `mash.worker.faust_internals`, and the
pinned faust still has every one of them.

After an upgrade of faust-streaming or mode-streaming these fail first, naming what changed: the
pin, an attribute that has gone, or faust's drain loop (copy the new one into `DrainLoop` and
make the same two changes, marked "mash:"). The integration and chaos tests must then pass again.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import re
import tomllib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.stores.rocksdb import Store as RocksDBStore
from faust.transport import consumer as faust_consumer

from tests.support.faust_apps import unstarted_app

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "mash"
INTERNALS = PACKAGE / "worker" / "faust_internals.py"


def pinned(distribution: str) -> str:
    """The exact version pyproject.toml pins `distribution` to."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    [pin] = [d for d in dependencies if re.match(rf"{re.escape(distribution)}\s*==", d)]
    return str(pin).split("==")[1].strip()


@pytest.mark.parametrize("distribution", ["faust-streaming", "mode-streaming"])
def test_the_installed_faust_and_mode_are_the_pinned_versions(distribution: str) -> None:
    assert metadata.version(distribution) == pinned(distribution)


def test_the_drain_loop_is_a_copy_of_the_installed_faust_s() -> None:
    # `DrainLoop._drain_messages` copies faust 0.15.3's loop. When faust changes its loop, this
    # fails: copy the new one and make the same two changes (marked "mash:").
    source = inspect.getsource(faust_consumer.Consumer._drain_messages)

    assert hashlib.sha256(source.encode()).hexdigest() == (
        "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"
    )


def test_faust_s_fetcher_still_runs_the_consumer_s_drain_loop() -> None:
    # Otherwise the copy would never run, and nothing else would fail.
    assert "consumer._drain_messages(self)" in inspect.getsource(faust_consumer.Fetcher)


# --- every private attribute faust_internals uses, on the pinned classes ----------------------------


@dataclass(frozen=True)
class Pinned:
    """The objects of the pinned faust (and aiokafka) that faust_internals reaches into."""

    consumer: Any  # faust's aiokafka consumer, as a worker's app builds it
    thread: Any  # its consumer thread
    aiokafka_consumer: Any  # the aiokafka consumer that thread creates
    fetcher: Any  # faust's Fetcher, which runs the drain loop
    producer: Any  # faust's aiokafka producer
    buffer: Any  # and its send buffer


# Each private attribute faust_internals uses, and where the pinned faust has it.
RELIED_ON: dict[str, Callable[[Pinned], list[Any]]] = {
    "_drain_messages": lambda p: [faust_consumer.Consumer],
    "_stopped": lambda p: [p.consumer, p.fetcher],
    "_read_offset": lambda p: [p.consumer],
    "_commit_every": lambda p: [p.consumer],
    "_n_acked": lambda p: [p.consumer],
    "_add_gap": lambda p: [p.consumer],
    "_buffered_partitions": lambda p: [p.consumer],
    "_committed_offset": lambda p: [p.consumer],
    "_thread": lambda p: [p.consumer],
    "_create_worker_consumer": lambda p: [p.thread],
    "_ensure_consumer": lambda p: [p.thread],
    "_fetch_max_wait_ms": lambda p: [p.aiokafka_consumer],
    "_send_pending": lambda p: [p.buffer],
    "_producer": lambda p: [p.producer],
    "_set_current_event": lambda p: [faust.Stream],
    "_db_for_partition": lambda p: [RocksDBStore],
}


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_attributes(tree: ast.AST) -> list[ast.Attribute]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Attribute) and is_private(node.attr)]


@pytest.fixture
async def pinned_faust() -> AsyncIterator[Pinned]:
    app = unstarted_app("unit-faust-internals")
    consumer: Any = app.consumer
    thread = consumer._thread
    created = thread._create_worker_consumer(app.transport)
    producer: Any = app.producer
    yield Pinned(consumer, thread, created, faust_consumer.Fetcher(app), producer, producer.buffer)
    await created.stop()  # never started, but aiokafka warns of an unclosed consumer at collection
    # The consumer's thread service (never started) made an event loop of its own.
    thread.thread_loop.close()


def test_every_private_attribute_faust_internals_uses_is_listed_here() -> None:
    tree = ast.parse(INTERNALS.read_text())
    overridden = {
        method.name
        for cls in ast.walk(tree)
        if isinstance(cls, ast.ClassDef)
        for method in cls.body
        if isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef) and is_private(method.name)
    }
    used = {node.attr for node in private_attributes(tree)} | overridden

    assert used == set(RELIED_ON)


@pytest.mark.parametrize("attribute", sorted(RELIED_ON))
async def test_the_pinned_faust_has_the_attribute(pinned_faust: Pinned, attribute: str) -> None:
    for owner in RELIED_ON[attribute](pinned_faust):
        assert hasattr(owner, attribute), f"{type(owner).__name__} has no {attribute}"


# --- no other module of the service reaches into a private part of anything ------------------------

# (module, expression) -> why it may. "*" is any module.
ALLOWED = {
    ("*", "os._exit"): "the standard library's documented exit without unwinding: the worker stops "
    "uncommitted, running no handler that could commit",
    ("mash/adapters/follow.py", "consumer._client"): "aiokafka's, not faust's: AIOKafkaConsumer has no "
    "public call to refresh the metadata of a topic just created",
    ("mash/cli/lifetime.py", "request._note"): "StopRequest's own signal handler, installed by its "
    "classmethod on the instance it has just made",
}


def defined_in(tree: ast.AST) -> set[str]:
    """The names a module defines: its functions, classes and methods, and what it assigns,
    including to attributes of `self` and `cls`."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign | ast.AugAssign)
            else []
        )
        for part in (part for target in targets for part in ast.walk(target)):
            if isinstance(part, ast.Name):
                names.add(part.id)
            elif (
                isinstance(part, ast.Attribute)
                and isinstance(part.value, ast.Name)
                and part.value.id in ("self", "cls")
            ):
                names.add(part.attr)
    return names


def reaches_in(tree: ast.AST) -> list[str]:
    """Each private attribute the module reads or sets on something other than its own `self`
    or `cls`, or on `self` or `cls` without defining it (a subclass of another library's class
    using that class's private parts); and each `getattr`-like call naming a private attribute."""
    own = defined_in(tree)
    found = []
    for attribute in private_attributes(tree):
        on_itself = isinstance(attribute.value, ast.Name) and attribute.value.id in ("self", "cls")
        if not (on_itself and attribute.attr in own):
            found.append(ast.unparse(attribute))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and is_private(node.args[1].value)
        ):
            found.append(ast.unparse(node))
    return found


def test_no_module_but_faust_internals_reaches_into_a_private_part_of_anything() -> None:
    found: dict[str, list[str]] = {}
    allowed_used: set[tuple[str, str]] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == INTERNALS:
            continue
        module = path.relative_to(ROOT).as_posix()
        for expression in reaches_in(ast.parse(path.read_text(), filename=module)):
            key = next((k for k in [(module, expression), ("*", expression)] if k in ALLOWED), None)
            if key is None:
                found.setdefault(module, []).append(expression)
            else:
                allowed_used.add(key)

    assert found == {}, "move these into mash/worker/faust_internals.py, or allow them here with a reason"
    assert allowed_used == set(ALLOWED), "an allowed use has gone: remove it from ALLOWED"

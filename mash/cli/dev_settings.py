"""The settings file of a running `mash dev`, for the commands run beside it.

`mash dev` gives its parts settings nobody typed: a broker on a free port, a child-key
secret made for the run. It writes them to `<state dir>/settings.json` (readable by its owner
alone: it holds the secret) and removes the file when it stops, so `mash replay`, `mash
report` and the others, run in another terminal in the same folder, talk to that broker and
hash children as its intake does. Environment variables still come first.

The file holds the parts' MASH_* variables as they were given, and the supervisor's process
id: a supervisor killed outright leaves the file behind, and a reader must not take it for a
running stack.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mash.config import Settings

FILE_NAME = "settings.json"
ENV_PREFIX = "MASH_"
# Settings that decide which service a command talks to, and how it names children: a value
# from the environment that differs from the running stack's is worth a word.
IDENTITY_KEYS = (
    "MASH_KAFKA_BOOTSTRAP",
    "MASH_TOPIC_PREFIX",
    "MASH_CHILD_KEY_SECRET",
    "MASH_MASTER_KEYS",
    "MASH_AGENCIES_FILE",
)


def settings_path(state_dir: Path) -> Path:
    return state_dir / FILE_NAME


def write_settings_file(state_dir: Path, env: Mapping[str, str], pid: int) -> Path:
    """Every MASH_* value of `env`, and `pid`, written so that no other user can ever read it."""
    path = settings_path(state_dir)
    content = {
        "about": (
            f"the settings of the `mash dev` running as process {pid}, for the mash commands run "
            "beside it; removed when it stops; environment variables take precedence over these"
        ),
        "pid": pid,
        "env": {key: value for key, value in sorted(env.items()) if key.startswith(ENV_PREFIX)},
    }
    partial = path.with_name(f".{FILE_NAME}.{pid}")
    partial.unlink(missing_ok=True)
    # Created with its final mode (O_EXCL: never an older file's): not readable by others even
    # for a moment. Renamed into place, so a reader sees the whole file or none.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(content, out, indent=2)
        out.write("\n")
    os.replace(partial, path)
    return path


def remove_settings_file(state_dir: Path, pid: int) -> None:
    """Removes the file if `pid` wrote it: another `mash dev` may have written it since."""
    found = read_settings_file(state_dir)
    if found is not None and found.pid == pid:
        found.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class DevSettingsFile:
    path: Path
    pid: int | None
    env: dict[str, str]

    def running(self) -> bool:
        """Whether the `mash dev` that wrote the file still runs."""
        return self.pid is not None and process_alive(self.pid)

    def overridden(self, environ: Mapping[str, str]) -> list[str]:
        """The identity settings the environment sets to another value than this stack's."""
        given = _by_upper_name(environ)
        return [
            key for key in IDENTITY_KEYS if key in given and key in self.env and given[key] != self.env[key]
        ]

    def settings_values(self, environ: Mapping[str, str]) -> dict[str, Any]:
        """Settings keyword arguments for the values the environment doesn't set (in any case,
        as pydantic-settings matches names): environment first, then this file."""
        given = _by_upper_name(environ)
        values: dict[str, Any] = {}
        for key, value in self.env.items():
            name = key.removeprefix(ENV_PREFIX).lower()
            if key.upper() not in given and name in Settings.model_fields:
                values[name] = value
        return values


def _by_upper_name(environ: Mapping[str, str]) -> dict[str, str]:
    return {key.upper(): value for key, value in environ.items()}


def read_settings_file(state_dir: Path) -> DevSettingsFile | None:
    path = settings_path(state_dir)
    if not path.is_file():
        return None
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
        pid = content["pid"]
        env = {str(key): str(value) for key, value in content["env"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return DevSettingsFile(path, None, {})  # unreadable, or not as `mash dev` writes it: no stack
    return DevSettingsFile(path, pid if isinstance(pid, int) else None, env)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    # A killed supervisor whose own parent hasn't collected it yet still has a pid.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"

"""Files re-read while running: agencies (keys) and the ruleset. A bad edit never replaces a good file."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import orjson
import pytest

from mash.adapters.ruleset_file import RulesetHolder, load_or_exit
from mash.adapters.watched_file import WatchedFile
from mash.domain.contact import CinSource
from mash.domain.ruleset import load_ruleset
from mash.intake.agencies import Agency, AgencyDirectory, AgencyFile, hash_key, new_key
from tests.unit.domain.test_ruleset_file import VALID


def write_agencies(path: Path, keys: dict[str, list[str]]) -> None:
    file = AgencyFile(
        agencies=[
            Agency(id=a, name=a, default_source=CinSource.POLICE, key_hashes=tuple(hash_key(k) for k in ks))
            for a, ks in keys.items()
        ]
    )
    path.write_bytes(orjson.dumps(file.model_dump(mode="json")))


def test_a_rewrite_within_the_same_clock_tick_is_still_noticed(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("aaaa")
    watched = WatchedFile(path)
    assert watched.read() == b"aaaa"
    assert not watched.changed()
    stat = path.stat()
    path.write_text("bbbb")  # same size; force the same mtime, as a coarse clock would
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert watched.changed()
    assert watched.read() == b"bbbb"
    assert not watched.changed()


def test_a_missing_file_is_a_change(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("x")
    watched = WatchedFile(path)
    watched.read()
    path.unlink()
    assert watched.changed()


def test_keys_are_rotated_and_revoked_without_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "agencies.json"
    old, new = new_key("police"), new_key("police")
    write_agencies(path, {"police": [old]})
    directory = AgencyDirectory(path)
    assert directory.by_key(old) is not None
    assert directory.by_key(new) is None
    write_agencies(path, {"police": [old, new]})  # rotation: both valid for a while
    assert directory.by_key(old) is not None
    assert directory.by_key(new) is not None
    write_agencies(path, {"police": [new]})  # then the old one is revoked
    assert directory.by_key(old) is None
    assert directory.by_key(new) is not None
    # The file holds only hashes.
    assert old not in path.read_text()
    assert new not in path.read_text()


def test_a_broken_agencies_file_keeps_the_last_good_directory(tmp_path: Path) -> None:
    path = tmp_path / "agencies.json"
    key = new_key("police")
    write_agencies(path, {"police": [key]})
    directory = AgencyDirectory(path)
    path.write_text('{"agencies": [{"id": "police"')
    assert directory.by_key(key) is not None
    path.write_text(
        json.dumps(
            {"agencies": [{"id": "x", "name": "x", "default_source": "6", "key_hashes": ["not-a-hash"]}]}
        )
    )
    assert directory.by_key(key) is not None
    path.unlink()
    assert directory.by_key(key) is not None


def test_a_ruleset_with_errors_is_refused_on_reload_and_the_last_good_one_kept(tmp_path: Path) -> None:
    path = tmp_path / "council.yaml"
    path.write_text(VALID)
    now = [0.0]
    holder = RulesetHolder(load_ruleset(path), path, check_every_s=1.0, clock=lambda: now[0])
    assert holder.current.version == "test.1"
    path.write_text(VALID.replace('version: "test.1"', 'version: "test.2"').replace("level: 2", "level: 7"))
    assert holder.current.version == "test.1"  # not looked at before check_every_s
    now[0] = 1.0
    assert holder.current.version == "test.1"  # looked at, refused
    assert not holder.reload_if_changed()  # the same bad file is not re-read
    path.write_text(VALID.replace('version: "test.1"', 'version: "test.3"'))
    now[0] = 2.0
    assert holder.current.version == "test.3"


def test_a_ruleset_with_errors_stops_the_process_at_start_naming_line_and_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "council.yaml"
    path.write_text(VALID.replace("level: 2", "level: 7"))
    with pytest.raises(SystemExit) as stopped:
        load_or_exit(path)
    assert "not starting" in str(stopped.value.code)
    err = capsys.readouterr().err
    line = VALID.splitlines().index("    level: 2") + 1
    assert f"{path}:{line}: indicators.1.level: Input should be less than or equal to 4" in err, err
    assert sys.exc_info() == (None, None, None)

"""The benchmarks are tooling, not product: not in the wheel, not in the image, not a `mash` command."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

from mash.cli.main import main

ROOT = Path(__file__).parents[3]


def test_the_wheel_packages_the_service_alone() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    assert include == ["mash*"]
    assert not any(fnmatch.fnmatch("benchmarks", pattern) for pattern in include)


def test_the_image_copies_no_benchmark_code() -> None:
    copied = re.findall(r"^\s*(?:COPY|ADD)\s+(.+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    sources = [source for line in copied for source in line.split()[:-1]]
    assert sources == ["pyproject.toml", "mash"]


def test_the_benchmarks_are_not_a_mash_command() -> None:
    assert "bench" not in main.commands

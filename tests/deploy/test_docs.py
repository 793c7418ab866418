"""The README and the docs site: short, complete, built strictly, and true to the code.

- The README fits on a few screens, keeps the two commands, and links only to pages that exist.
- Every page under docs/ is in the nav of mkdocs.yml, and the site builds with --strict.
- Every test a page names exists, down to the function: a page that states a guarantee names the
  test that shows it, and a renamed or removed test must not leave the page pointing at nothing.
- Every alert's runbook_url points at its runbook section on the site, under mkdocs.yml's
  site_url.
- The generated tables hold what the code holds.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from markdown.extensions.toc import slugify

from mash.domain.ruleset import load_ruleset

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MKDOCS = ROOT / "mkdocs.yml"
ALERT_RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RUNBOOKS = DOCS / "operations" / "runbooks.md"
README_MAX_LINES = 250

# `tests/unit/test_x.py` or `tests/unit/test_x.py::test_name`, as pages cite them.
TEST_REFERENCE = re.compile(r"\btests/(?P<path>[\w/]+\.py)(?:::(?P<name>\w+))?")
MARKDOWN_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


@cache
def hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def nav_pages(nav: Any) -> list[str]:
    """The page paths a mkdocs nav names, at any depth."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [page for item in nav for page in nav_pages(item)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in nav_pages(value)]
    return []


def mkdocs_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(MKDOCS.read_text(encoding="utf-8"))
    return config


def functions_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_the_readme_fits_on_a_few_screens_and_keeps_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES
    assert "make run" in text
    assert "make test" in text


def test_the_readmes_links_into_the_docs_reach_pages_and_headings_that_exist() -> None:
    """Relative links, so they work on GitHub too; the site build does not read the README."""
    links = [m["target"] for m in MARKDOWN_LINK.finditer(README.read_text(encoding="utf-8"))]
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert any(link.startswith("docs/") for link in local)
    for link in local:
        path, _, anchor = link.partition("#")
        target = ROOT / path
        assert target.exists(), f"README links to {link}, which does not exist"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", target.read_text(encoding="utf-8"), flags=re.MULTILINE)
            assert anchor in {slugify(h, "-") for h in headings}, f"README links to a missing anchor: {link}"


def test_every_page_is_in_the_nav_and_the_nav_names_only_pages() -> None:
    listed = nav_pages(mkdocs_config()["nav"])
    on_disk = [p.relative_to(DOCS).as_posix() for p in pages()]
    assert len(listed) == len(set(listed)), "a page is listed twice"
    assert sorted(listed) == on_disk


def test_every_test_a_page_names_exists() -> None:
    cited = 0
    for page in [README, *pages()]:
        for match in TEST_REFERENCE.finditer(page.read_text(encoding="utf-8")):
            cited += 1
            path = ROOT / "tests" / match["path"]
            where = f"{page.relative_to(ROOT)} names {match[0]}"
            assert path.is_file(), f"{where}: no such file"
            if match["name"]:
                assert match["name"] in functions_in(path), f"{where}: no such test"
    assert cited > 100, "the guarantee pages should name the tests that show them"


def test_the_guarantee_pages_name_their_tests() -> None:
    for name in ("reliability.md", "security-and-privacy.md", "partner-api.md", "embedded-broker.md"):
        text = (DOCS / name).read_text(encoding="utf-8")
        named = {m[0] for m in TEST_REFERENCE.finditer(text) if m["name"]}
        assert len(named) >= 5, f"{name} names {len(named)} tests"


def test_every_alert_links_to_its_runbook_on_this_site() -> None:
    site_url = mkdocs_config()["site_url"]
    assert site_url.endswith("/")
    headings = re.findall(r"^### (Mash\w+)$", RUNBOOKS.read_text(encoding="utf-8"), flags=re.MULTILINE)
    anchors = {slugify(h, "-"): h for h in headings}
    rules = [rule for group in yaml.safe_load(ALERT_RULES.read_text())["groups"] for rule in group["rules"]]
    assert rules
    for rule in rules:
        url = rule["annotations"]["runbook_url"]
        assert url.startswith(f"{site_url}operations/runbooks/#"), f"{rule['alert']}: {url}"
        anchor = url.rsplit("#", 1)[1]
        assert anchors.get(anchor) == rule["alert"], f"{rule['alert']}: no runbook section at #{anchor}"
    assert sorted(anchors.values()) == sorted(rule["alert"] for rule in rules), "a runbook for no alert"


def test_the_ruleset_page_lists_every_indicator_of_the_default_ruleset() -> None:
    page = hooks().fill((DOCS / "ruleset.md").read_text(encoding="utf-8"))
    ruleset = load_ruleset(None)
    for indicator in ruleset.indicators:
        row = f"| `{indicator.code}` | {indicator.level} |"
        assert row in page, indicator.code
    for rule in [*ruleset.combinations, *ruleset.history]:
        assert f"`{rule.id}`" in page, rule.id
    assert f"`{ruleset.version}`" in page
    assert "<!-- generated:" not in page


def test_an_unknown_generated_table_fails_the_build() -> None:
    with pytest.raises(ValueError, match="no generated table called 'no-such-table'"):
        hooks().fill("text\n<!-- generated: no-such-table -->\n")


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(Path(sys.executable).parent)},
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "operations" / "runbooks" / "index.html").is_file()

"""Contracts: the checked-in JSON Schemas match the models, `mash rules check` reports clearly, and
the configuration page lists every setting."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from mash.cli.main import main
from mash.cli.schemas import SCHEMAS, stale_schemas

ROOT = Path(__file__).parents[3]


def test_checked_in_schemas_match_the_models() -> None:
    stale = stale_schemas(ROOT / "schemas")
    assert stale == [], f"regenerate with `make schemas`: {stale}"


def test_a_changed_model_would_be_caught(tmp_path: Path) -> None:
    assert set(stale_schemas(tmp_path)) == set(SCHEMAS)


def test_rules_check_accepts_the_default_ruleset() -> None:
    result = CliRunner().invoke(main, ["rules", "check", str(ROOT / "mash" / "rulesets" / "default.yaml")])
    assert result.exit_code == 0, result.output
    assert "ruleset 2026.2 is valid: 40 indicators" in result.output


def test_rules_check_prints_line_field_and_reason(tmp_path: Path) -> None:
    bad = tmp_path / "council.yaml"
    text = (ROOT / "mash" / "rulesets" / "default.yaml").read_text()
    bad.write_text(text.replace("level: 2", "level: 7", 1))
    line = next(n for n, ln in enumerate(bad.read_text().splitlines(), 1) if "level: 7" in ln)
    result = CliRunner().invoke(main, ["rules", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:{line}: indicators." in result.output
    assert ".level: Input should be less than or equal to 4" in result.output


def test_every_setting_is_on_the_configuration_page() -> None:
    """The page's table is made from Settings when the site is built (docs/hooks.py)."""
    import importlib.util

    from mash.config import Settings

    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec is not None
    assert spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    page = hooks.fill((ROOT / "docs" / "configuration.md").read_text(encoding="utf-8"))
    missing = [
        f"MASH_{name.upper()}" for name in Settings.model_fields if f"| `MASH_{name.upper()}` |" not in page
    ]
    assert missing == []
    assert all(field.description for field in Settings.model_fields.values())

"""Reading a ruleset file: what a council's editor sees when the file is wrong.

`parse_ruleset` must name every problem with the line to look at, the field path and the reason,
so `mash rules check FILE` can be fixed by someone who isn't a developer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mash.domain.ruleset import RulesetError, RulesetProblem, load_ruleset, parse_ruleset

VALID = """\
version: "test.1"
name: "Test thresholds"
effective_from: 2026-04-01
indicators:
  - code: no_unmet_needs
    description: "No unmet needs"
    level: 1
  - code: missed_health_checks
    description: "Missed immunisations or health checks"
    level: 2
  - code: domestic_abuse_in_home
    description: "Domestic abuse in the child's home"
    level: 3
  - code: parental_mental_health_significant
    description: "A parent's mental ill-health significantly affects their care"
    level: 3
  - code: disclosure_of_abuse
    description: "The child has disclosed abuse"
    level: 4
    override: true
combinations:
  - id: abuse_and_mental_health
    description: "Domestic abuse and parental mental ill-health together"
    level: 4
    all_of:
      - domestic_abuse_in_home
      - parental_mental_health_significant
history:
  - id: open_case
    description: "The child has an open social care case"
    kind: open_case
    min_level: 3
routes:
  1: {route: universal, pathway: "Advice and signposting"}
  2: {route: early_help, pathway: "Early help assessment"}
  3: {route: social_care, pathway: "Child in need assessment"}
  4: {route: social_care, pathway: "Strategy discussion"}
rag:
  1: blue
  2: green
  3: amber
  4: red
"""


def edited(old: str, new: str) -> str:
    """The valid file with one edit, as a council's editor might make it."""
    assert VALID.count(old) == 1, f"{old!r} must appear exactly once in the valid file"
    return VALID.replace(old, new)


def line_of(text: str, fragment: str) -> int:
    """The 1-based line of the only line containing `fragment`."""
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if fragment in line]
    assert len(lines) == 1, f"{fragment!r} is on lines {lines}"
    return lines[0]


def problems_of(text: str) -> list[RulesetProblem]:
    with pytest.raises(RulesetError) as caught:
        parse_ruleset(text, "council.yaml")
    assert str(caught.value).startswith("council.yaml: ")
    return caught.value.problems


def only_problem(text: str) -> RulesetProblem:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


def test_the_test_file_itself_is_valid():
    ruleset = parse_ruleset(VALID)

    assert ruleset.version == "test.1"
    assert len(ruleset.indicators) == 5


def test_a_yaml_syntax_error_reports_its_line():
    # An unquoted colon inside a description is the classic hand-editing mistake.
    text = edited(
        '    description: "Missed immunisations or health checks"',
        "    description: Missed checks: immunisations and health visits",
    )

    problem = only_problem(text)

    assert problem.line == line_of(text, "Missed checks: immunisations")
    assert problem.field == "(yaml)"
    assert "mapping values are not allowed" in problem.reason


def test_a_file_that_is_not_a_mapping_is_refused():
    problem = only_problem("- just\n- a list\n")

    assert (problem.line, problem.field) == (1, "(file)")


def test_an_empty_file_is_refused():
    assert only_problem("").field == "(file)"


def test_a_level_5_indicator_reports_its_line_field_path_and_reason():
    text = edited(
        '    description: "A parent\'s mental ill-health significantly affects their care"\n    level: 3',
        '    description: "A parent\'s mental ill-health significantly affects their care"\n    level: 5',
    )

    problem = only_problem(text)

    assert problem.line == line_of(text, "level: 5")
    assert problem.field == "indicators.3.level"
    assert "less than or equal to 4" in problem.reason
    assert str(problem) == f"line {problem.line}: indicators.3.level: {problem.reason}"


def test_an_override_on_a_level_2_indicator_is_refused_at_that_indicator():
    text = edited(
        '    description: "Missed immunisations or health checks"\n    level: 2\n',
        '    description: "Missed immunisations or health checks"\n    level: 2\n    override: true\n',
    )

    problem = only_problem(text)

    assert problem.line == line_of(text, "- code: missed_health_checks")
    assert problem.field == "indicators.1"
    assert "only a level 4 indicator can be a hard override" in problem.reason


def test_a_duplicate_indicator_code_reports_the_second_one():
    text = edited("  - code: missed_health_checks", "  - code: no_unmet_needs  # pasted twice")

    problem = only_problem(text)

    assert problem.line == line_of(text, "# pasted twice")
    assert problem.field == "indicators.1.code"
    assert "duplicate indicator code 'no_unmet_needs'" in problem.reason


def test_a_combination_naming_an_unknown_code_reports_the_line_of_that_entry():
    text = edited("      - parental_mental_health_significant", "      - parental_mental_health")

    problem = only_problem(text)

    assert problem.line == line_of(text, "      - parental_mental_health")
    assert problem.field == "combinations.0.all_of.1"
    assert "unknown indicator code 'parental_mental_health'" in problem.reason


def test_a_missing_route_level_is_named():
    text = edited('  4: {route: social_care, pathway: "Strategy discussion"}\n', "")

    problem = only_problem(text)

    assert problem.field == "routes"
    assert "[4]" in problem.reason
    assert line_of(text, "routes:") <= problem.line < line_of(text, "rag:")


def test_missing_route_and_rag_levels_are_both_reported():
    text = edited('  4: {route: social_care, pathway: "Strategy discussion"}\n', "")
    text = text.replace("  4: red\n", "")

    assert {p.field for p in problems_of(text)} == {"routes", "rag"}


def test_an_unknown_top_level_field_is_refused_at_its_line():
    text = VALID + "colour: purple\n"

    problem = only_problem(text)

    assert problem.line == line_of(text, "colour: purple")
    assert problem.field == "colour"
    assert "Extra inputs are not permitted" in problem.reason


def test_every_schema_problem_in_the_file_is_reported_at_once():
    text = edited("    level: 1\n", "    level: 0\n") + "colour: purple\n"

    assert {p.field for p in problems_of(text)} == {"indicators.0.level", "colour"}


def test_a_combination_needs_all_of_or_a_count():
    text = edited(
        "    all_of:\n      - domestic_abuse_in_home\n      - parental_mental_health_significant\n",
        "    min_count: 3\n",
    )

    problem = only_problem(text)

    assert problem.field == "combinations.0"
    assert "min_count and at_level go together" in problem.reason


def test_a_history_rule_that_changes_nothing_is_refused():
    text = edited("    min_level: 3\n", "")

    problem = only_problem(text)

    assert problem.field == "history.0"
    assert "changes nothing" in problem.reason


def test_load_ruleset_names_the_file_in_its_errors(tmp_path: Path):
    path = tmp_path / "council.yaml"
    path.write_text(VALID + "colour: purple\n", encoding="utf-8")

    with pytest.raises(RulesetError) as caught:
        load_ruleset(path)

    assert caught.value.source == str(path)


def test_the_shipped_default_ruleset_parses():
    ruleset = load_ruleset()

    assert ruleset.version == "2026.2"
    assert ruleset.name
    assert set(ruleset.routes) == set(ruleset.rag) == {1, 2, 3, 4}


def test_a_control_character_in_the_file_is_a_problem_not_a_crash():
    problem = only_problem(edited('name: "Test thresholds"', 'name: "Test\x07thresholds"'))

    assert problem.field == "(yaml)"


def test_a_key_given_twice_is_a_problem_not_silently_the_last_one():
    text = edited("    level: 4\n    override: true", "    level: 2\n    level: 4\n    override: true")
    problem = only_problem(text)

    assert problem.reason == "this key is given twice"
    assert problem.field.endswith(".level")
    assert text.splitlines()[problem.line - 1].strip() == "level: 4"


def test_a_duplicate_history_rule_id_points_at_the_second_copy():
    text = VALID.replace(
        "routes:",
        "  - id: open_case\n    description: again\n    kind: open_case\n    min_level: 3\nroutes:",
    )
    problem = only_problem(text)

    assert problem.field == "history.1.id"
    assert problem.line == line_of(text, "description: again") - 1
    assert "duplicate rule id" in problem.reason

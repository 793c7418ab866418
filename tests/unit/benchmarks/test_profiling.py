"""The worker's hot functions, from py-spy's collapsed stacks."""

from __future__ import annotations

from benchmarks.profiling import format_hot, hot_functions


def test_hot_functions_count_own_and_total_samples() -> None:
    collapsed = "\n".join(
        [
            "main (app.py:1);handle (app.py:10);parse (json.py:5) 6",
            "main (app.py:1);handle (app.py:11);parse (json.py:7) 2",
            "main (app.py:1);handle (app.py:12) 2",
            "not a stack line",
        ]
    )
    hot = hot_functions(collapsed)
    assert [(h.function, h.own, h.total) for h in hot] == [
        ("parse (json.py)", 8, 8),
        ("handle (app.py)", 2, 10),
    ]
    assert hot[0].own_share == 0.8
    assert "parse (json.py)" in format_hot(hot)
    assert hot_functions("") == []

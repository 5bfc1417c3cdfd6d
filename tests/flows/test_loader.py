"""Reading flow files: the source map's line numbers, TOML errors, and what a flow holds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.flows.loader import FlowError, load_flow, load_flows, read_toml
from gateway.flows.model import Range, Route, Step
from gateway.flows.source import SourceMap

FIXTURES = Path(__file__).parent / "fixtures"

SOURCE = '''\
# [not.a.header] in a comment
[flow]
name = "x"  # [flow.name]
title = """
[steps.fake]
next = "no"
"""
languages = [
  "en",
  "[steps.fake2]",
]

[steps.age]
type = "number"
options = [
  { value = "a", label = { en = "A" } },
  { value = "b", label = { en = "B" } },
]
next = "agee"

[[steps.age.routes]]
when = { age = 1 }
goto = "one"

[[ steps.age.routes ]]
when = { age = 2 }
goto = "two"

[steps."odd id"]
'next' = "x"
'''


def test_source_map_finds_headers_keys_and_option_values():
    source = SourceMap(SOURCE)
    assert [names for _, names in source.headers] == [
        ("flow",),
        ("steps", "age"),
        ("steps", "age", "routes"),
        ("steps", "age", "routes"),
        ("steps", "odd id"),
    ]
    assert source.key_line(("flow",), "name") == 3
    assert source.key_line(("flow",), "languages") == 8
    assert source.key_line(("flow",), "next") is None  # inside the multi-line string
    assert source.step_line("age", "next") == 19
    assert source.step_line("age", "value") == 13  # not a key of the table: the header
    assert source.option_line("age", "b") == 17
    assert source.route_line("age", 0, "goto") == 23
    assert source.route_line("age", 1, "goto") == 27
    assert source.step_line("odd id", "next") == 30
    assert source.line(("steps", "missing"), "next") == 1


def test_source_map_for_inline_routes():
    source = SourceMap(
        '[steps.a]\ntype = "yesno"\nroutes = [\n  { when = { a = "yes" }, goto = "b" },\n'
        '  { when = { a = "no" }, goto = "c" },\n]\n'
    )
    assert source.route_line("a", 1, "goto", "c") == 5
    assert source.route_line("a", 0, "goto", "b") == 4


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[flow]\nname = "x"\nname = "y"\n', "3: invalid TOML: Cannot overwrite a value"),
        ('[flow]\nname = "x\n', "2: invalid TOML: Illegal character '\\n'"),
        ("[flow]\nname = [", "2: invalid TOML: Invalid value"),
    ],
)
def test_toml_syntax_errors_become_one_problem_at_their_line(tmp_path, text, problem):
    path = tmp_path / "x.toml"
    path.write_text(text)
    with pytest.raises(FlowError) as error:
        read_toml(path)
    assert [str(p) for p in error.value.problems] == [f"{path}:{problem}"]


def test_load_flow_builds_steps_routes_and_defaults():
    flow = load_flow(FIXTURES / "good" / "market.toml")
    assert flow.start == "language"
    assert list(flow.steps)[:3] == ["language", "stall", "goods"]
    years = flow.steps["years"]
    assert (years.min, years.max, years.routes) == (
        0,
        60,
        (Route({"years": Range(None, 1)}, "permit"),),
    )
    assert flow.steps["comment"].routes[0].when == {"stall": ("fish", "maize")}
    assert flow.steps["goods"].optional is False
    assert flow.max_attempts == 3


def test_load_flows_skips_underscore_files_and_lists_all_problems(tmp_path):
    shutil.copy(FIXTURES / "good" / "_system.toml", tmp_path)
    shutil.copy(FIXTURES / "good" / "wards.toml", tmp_path)
    assert list(load_flows(tmp_path)) == ["wards"]
    for name in ("bad_range", "unknown_type"):
        shutil.copy(FIXTURES / "broken" / f"{name}.toml", tmp_path)
    with pytest.raises(FlowError) as error:
        load_flows(tmp_path)
    assert [f"{Path(p.file).name}:{p.line}" for p in error.value.problems] == [
        "bad_range.toml:9",
        "bad_range.toml:18",
        "unknown_type.toml:7",
    ]


@pytest.mark.parametrize(
    ("when", "answers", "goes"),
    [
        ({"visited": "yes"}, {"visited": "yes"}, True),
        ({"visited": "yes"}, {"visited": "no"}, False),
        ({"visited": "yes"}, {}, False),
        ({"rating": 5}, {"rating": 5}, True),
        ({"stall": ("fish", "maize")}, {"stall": "maize"}, True),
        ({"stall": ("fish", "maize")}, {"stall": "other"}, False),
        ({"rating": Range(None, 2)}, {"rating": 2}, True),
        ({"rating": Range(None, 2)}, {"rating": 3}, False),
        ({"rating": Range(2, 4)}, {"rating": 1}, False),
        ({"rating": Range(2, 4)}, {"rating": "3"}, False),  # text is not a number
        ({"a": "x", "b": "y"}, {"a": "x", "b": "z"}, False),  # every condition must hold
    ],
)
def test_first_matching_route_wins_else_next(when, answers, goes):
    step = Step("s", "choice", next="fallback", routes=(Route(when, "routed"),))
    assert step.next_step(answers) == ("routed" if goes else "fallback")

"""The `area` step (menus from an area tree the host lends), per-channel max_length, {reference}."""

from __future__ import annotations

import tomllib

import pytest

from gateway.areas import AreaTree
from gateway.flows import engine
from gateway.flows.check import check_flow
from gateway.flows.engine import FlowBroken, FlowData, RunState
from gateway.flows.loader import parse_flow
from gateway.flows.model import Flow
from gateway.flows.source import SourceMap

TREE = AreaTree.parse('''
[[regions]]
code = "north"
name = "North"
[[regions.districts]]
code = "hills"
name = "Hills"
wards = [{ code = "hills/top", name = "Top" }, { code = "hills/foot", name = "Foot" }]
[[regions.districts]]
code = "lake"
name = "Lake"
wards = [{ code = "lake/shore", name = "Shore" }]
[[regions]]
code = "south"
name = "South"
[[regions.districts]]
code = "plain"
name = "Plain"
wards = [{ code = "plain/shore", name = "Shore" }]
''')

FLOW = '''
[flow]
name = "where"
kind = "report"
languages = ["en"]
[steps.place]
type = "area"
result = "ward"
next = "note"
[steps.place.prompts]
region = { en = "Region?" }
district = { en = "District?" }
ward = { en = "Ward?" }
match = { en = "Did you mean:" }
[steps.note]
type = "text"
result = "note"
max_length = { ussd = 5, sms = 10 }
prompt = { en = "Note?" }
next = "done"
[steps.done]
type = "end"
text = { en = "{ward}: {reference}" }
'''


def flow_of(text: str) -> tuple[Flow, list]:
    return parse_flow(tomllib.loads(text), file="where.toml", source=SourceMap(text), stem="where")


@pytest.fixture
def flow() -> Flow:
    parsed, problems = flow_of(FLOW)
    assert problems == []
    return parsed


def play(flow, texts, channel: str, replies: list[str]) -> list[str]:
    data = FlowData(areas=TREE, channel=channel, context={"reference": "R-7K3Q"})
    turn = engine.start(flow, texts, run_id="r", language="en", data=data)
    screens = [turn.screen.text]
    for reply in replies:
        turn = engine.resume(flow, texts, turn.state, reply, fresh_run_id="x", data=data)
        screens.append(turn.screen.text)
    return screens


def test_the_menus_walk_down_the_levels_and_0_goes_back_up(flow, texts):
    screens = play(flow, texts, "ussd", ["1", "0", "1", "1", "2", "abc"])
    assert screens[:5] == [
        "Region?\n1. North\n2. South",
        "District?\n1. Hills\n2. Lake",
        "Region?\n1. North\n2. South",
        "District?\n1. Hills\n2. Lake",
        "Ward?\n1. Top\n2. Foot",
    ]
    assert screens[5] == "Note?"
    assert screens[6] == "Foot: R-7K3Q"


def test_the_state_keeps_the_partial_path_and_round_trips(flow, texts):
    data = FlowData(areas=TREE)
    turn = engine.start(flow, texts, run_id="r", language="en", data=data)
    turn = engine.resume(flow, texts, turn.state, "2", fresh_run_id="x", data=data)
    assert turn.state.area == "south"
    assert RunState.from_json(turn.state.to_json()) == turn.state


def test_over_ussd_a_typed_name_is_not_a_menu_answer(flow, texts):
    assert play(flow, texts, "ussd", ["Top"])[1].startswith("Please choose")


@pytest.mark.parametrize(
    ("typed", "screen"),
    [("top", "Note?"), ("Shore", "Did you mean:\n1. Shore, Lake, North\n2. Shore, Plain, South"),
     ("hils", "Ward?\n1. Top\n2. Foot")],
)
def test_over_sms_a_typed_place_name_is_matched(flow, texts, typed, screen):
    assert play(flow, texts, "sms", [typed])[1] == screen


def test_the_did_you_mean_choice_saves_the_ward(flow, texts):
    assert play(flow, texts, "sms", ["shore", "2", "ok"])[-1] == "Shore: R-7K3Q"


def test_max_length_per_channel(flow, texts):
    ussd = play(flow, texts, "ussd", ["1", "1", "1", "123456"])[-1]
    assert ussd.startswith("Please use at most 5")
    assert play(flow, texts, "sms", ["top", "123456"])[-1] == "Top: R-7K3Q"


def test_an_area_step_without_a_tree_is_a_broken_host(flow, texts):
    with pytest.raises(FlowBroken):
        engine.start(flow, texts, run_id="r", language="en")


def test_the_checker_measures_every_area_menu(texts):
    long_names = "\n".join(
        f'[[regions]]\ncode = "r{n}"\nname = "Region number {n:02d} with words"\n'
        f'[[regions.districts]]\ncode = "d{n}"\nname = "D{n}"\nwards = [{{ code = "w{n}", '
        f'name = "W{n}" }}]'
        for n in range(3)
    )
    tree = AreaTree.parse(long_names)
    wordy = FLOW.replace(
        'region = { en = "Region?" }', 'region = { en = "' + "Where? " * 20 + '" }'
    )
    flow, _ = flow_of(wordy)
    problems = check_flow(flow, texts, areas=tree)
    assert any('step "place" (en) under "the top"' in str(p) for p in problems)
    assert check_flow(flow_of(FLOW)[0], texts, areas=tree) == []


def test_reference_is_quoted_only_by_report_flows(texts):
    flow, _ = flow_of(FLOW.replace('kind = "report"\n', ""))
    problems = check_flow(flow, texts, areas=TREE)
    assert [p.message for p in problems] == [
        'step "done": text (en) quotes unknown answer {reference}']


@pytest.mark.parametrize(
    "value", ["{ ussd = 0 }", "{ fax = 5 }", "{}", '"long"'])
def test_a_bad_max_length_is_reported(value):
    _, problems = flow_of(FLOW.replace("{ ussd = 5, sms = 10 }", value))
    assert ["max_length must be" in p.message for p in problems] == [True]


def test_an_area_step_needs_its_prompts():
    _, problems = flow_of(FLOW.replace('match = { en = "Did you mean:" }\n', ""))
    assert ["needs prompts for region, district, ward, match" in p.message for p in problems] == [
        True]

"""`gateway flows check`: one broken fixture per problem kind, with its exact file:line message."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.flows.check import check_flows, load_checked, main
from gateway.flows.loader import FlowError, Problem

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = FIXTURES / "good"
BROKEN = FIXTURES / "broken"

CASES = {
    "syntax": ["5: invalid TOML: Unclosed array"],
    "unknown_next": [
        '14: step "age" points to unknown step "agee"',
        '16: step "thanks" cannot be reached from the start step "age"',
    ],
    "unknown_goto": ['20: step "visited" points to unknown step "thanx"'],
    "unreachable": ['14: step "orphan" cannot be reached from the start step "visited"'],
    "no_next": ['8: step "visited" has no next step'],
    "missing_text": ['14: step "years" prompt has no "fr" text'],
    "unknown_quote": [
        '14: step "priority": option "roads" label (en) has {priority}; '
        "only prompts and end texts quote answers",
        '20: step "thanks": text (en) quotes unknown answer {prioity}',
    ],
    "wrong_name": ['2: flow name "poll" must equal the file name "wrong_name"'],
    "unknown_type": [
        '7: step "when": unknown type "date" '
        "(one of choice, text, number, yesno, language, area, reports, end)"
    ],
    "bad_range": [
        '9: step "households": min (10) is greater than max (1)',
        '18: step "rooms": max must be a whole number',
    ],
    "unknown_key": [
        '8: step "comment" has no next step',
        '12: step "comment": "options" does not apply to a text step',
        '13: step "comment": unknown key "nxt"',
        '15: step "thanks" cannot be reached from the start step "comment"',
    ],
    "route_condition": [
        '23: step "rating": route tests unknown answer "visted"',
        '27: step "rating": route value "maybe" is not an answer of "visited" (one of no, yes)',
        '31: step "rating": route tests "visited" with { min, max } but it is not a number answer',
    ],
    "flow_table": [
        '3: [flow]: unknown key "titel"',
        '5: default_language "fr" is not one of the flow\'s languages',
        "6: max_attempts must be a whole number >= 1",
        '10: step "thanks" text has a "sw" text but the flow does not declare that language',
    ],
    "too_long_prompt": [
        '12: step "comment" (en): the screen can reach 187 characters with the longest error '
        "line and quoted answers, over the limit of 182"
    ],
    "too_long_option": [
        '14: step "priority" (en): option 2 "Rehabilitate the community water kiosk next to the '
        "primary school and the dispensary, with a new tank and two taps for the market "
        'traders" does not fit on one screen: 229 characters with the prompt, navigation and '
        "error line, over the limit of 182"
    ],
    "too_long_quote": [
        '16: step "thanks" (en): the end screen can reach 197 characters with the longest '
        "quoted answers, over the limit of 182"
    ],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_problem_kind_is_reported_at_its_line(name):
    path = BROKEN / f"{name}.toml"
    assert [str(p) for p in check_flows([path])] == [f"{path}:{line}" for line in CASES[name]]


def test_every_broken_fixture_has_a_case():
    assert {p.stem for p in BROKEN.glob("*.toml") if not p.stem.startswith("_")} == set(CASES)


def test_good_flows_pass_and_main_says_ok(capsys):
    assert check_flows([GOOD]) == []
    assert main([str(GOOD)]) == 0
    assert capsys.readouterr().out == "ok: 2 flows checked\n"


def test_main_prints_problems_and_fails(capsys):
    path = BROKEN / "unknown_goto.toml"
    assert main([str(path), str(GOOD / "wards.toml")]) == 1
    assert capsys.readouterr().out == f'{path}:20: step "visited" points to unknown step "thanx"\n'


def test_a_directory_checks_every_flow_but_not_underscore_files():
    problems = check_flows([BROKEN])
    assert {Path(p.file).name for p in problems} == {f"{name}.toml" for name in CASES}


def test_problem_reads_as_file_line_message():
    assert str(Problem("flows/budget.toml", 42, 'step "age"')) == 'flows/budget.toml:42: step "age"'


def test_system_texts_per_language_placeholders_and_sizes():
    system = FIXTURES / "broken_system" / "_system.toml"
    assert [str(p) for p in check_flows([FIXTURES / "broken_system"])] == [
        f'{system}:3: text "more" has no "fr" text',
        f'{system}:32: text "invalid_number" (fr) has unknown placeholder {{mn}}',
        f"{system}:48: the resume screen (fr) can reach 251 characters with the error line, "
        "over the limit of 182",
        f'{system}:64: text "apology" (fr) is 194 characters, over the limit of 182',
    ]


def test_missing_and_unknown_system_texts(tmp_path):
    text = (GOOD / "_system.toml").read_text().replace("[texts.skip]", "[texts.skipp]")
    (tmp_path / "_system.toml").write_text(text)
    shutil.copy(GOOD / "wards.toml", tmp_path)
    assert [str(p) for p in check_flows([tmp_path])] == [
        f'{tmp_path}/_system.toml:1: missing text "skip"',
        f'{tmp_path}/_system.toml:67: unknown text "skipp"',
    ]


def test_missing_system_texts_file(tmp_path):
    shutil.copy(GOOD / "wards.toml", tmp_path)
    assert [str(p) for p in check_flows([tmp_path / "wards.toml"])] == [
        f"{tmp_path}/_system.toml:1: missing system texts file (navigation, errors)"
    ]


def test_a_menu_holds_at_most_97_options(tmp_path):
    shutil.copy(GOOD / "_system.toml", tmp_path)
    options = "\n".join(f'  {{ value = "v{n}", label = {{ en = "W{n}" }} }},' for n in range(98))
    (tmp_path / "big.toml").write_text(
        '[flow]\nname = "big"\nlanguages = ["en"]\n\n[steps.pick]\ntype = "choice"\n'
        f'result = "pick"\nprompt = {{ en = "Pick one" }}\noptions = [\n{options}\n]\n'
        'next = "done"\n\n[steps.done]\ntype = "end"\ntext = { en = "Done." }\n'
    )
    assert [str(p) for p in check_flows([tmp_path])] == [
        f'{tmp_path}/big.toml:9: step "pick" has 98 options; a menu holds at most 97'
    ]


def test_worst_case_quotes_use_the_longest_label_in_each_language(tmp_path):
    """The French label is long: the quoting end screen only overflows in French."""
    shutil.copy(GOOD / "_system.toml", tmp_path)
    (tmp_path / "quote.toml").write_text(
        '[flow]\nname = "quote"\nlanguages = ["en", "fr"]\n\n'
        '[steps.pick]\ntype = "choice"\nresult = "pick"\nprompt = { en = "Pick", fr = "Choix" }\n'
        "options = [\n"
        f'  {{ value = "a", label = {{ en = "A", fr = "{"é" * 90}" }} }},\n'
        '  { value = "b", label = { en = "B", fr = "B" } },\n]\nnext = "done"\n\n'
        '[steps.done]\ntype = "end"\n'
        f'text = {{ en = "{"x" * 95} {{pick}}", fr = "{"x" * 95} {{pick}}" }}\n'
    )
    assert [str(p) for p in check_flows([tmp_path])] == [
        f'{tmp_path}/quote.toml:17: step "done" (fr): the end screen can reach 186 characters '
        "with the longest quoted answers, over the limit of 182"
    ]


def test_load_checked_refuses_broken_flows_and_loads_good_ones():
    with pytest.raises(FlowError) as error:
        load_checked(BROKEN)
    assert f'{BROKEN}/no_next.toml:8: step "visited" has no next step' in str(error.value)
    flows, texts = load_checked(GOOD)
    assert sorted(flows) == ["market", "wards"]
    assert texts.text("more", "fr") == "Suite"


def test_the_multilingual_picker_prompt_counts_against_the_screen(tmp_path):
    """The picker shows `choose_language` in every language of the flow: all of it must fit."""
    long_word = "Choisissez la langue dans laquelle vous voulez répondre. " * 2  # 114
    text = (GOOD / "_system.toml").read_text().replace('fr = "Langue"', f'fr = "{long_word}"')
    (tmp_path / "_system.toml").write_text(text)
    shutil.copy(GOOD / "market.toml", tmp_path)
    shutil.copy(GOOD / "wards.toml", tmp_path)
    # Only in English: its error line is 4 characters longer than the French one.
    assert [str(p) for p in check_flows([tmp_path])] == [
        f'{tmp_path}/market.toml:13: step "language" (en): option 1 "English" does not fit on one '
        "screen: 184 characters with the prompt, navigation and error line, over the limit of 182"
    ]

"""Golden transcripts through the pure engine: what the citizen typed, what the screen said."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.flows import engine
from gateway.flows.engine import (
    AnswerRecorded,
    LanguageChosen,
    RunAbandoned,
    RunCompleted,
    RunState,
)
from gateway.flows.loader import load_flow

BROKEN = Path(__file__).parent / "fixtures" / "broken"

PICKER = "Language / Langue:\n1. English\n2. Français"
STALL_EN = "What do you sell?\n1. Fish\n2. Maize\n3. Something else"
STALL_FR = "Que vendez-vous ?\n1. Poisson\n2. Maïs\n3. Autre chose"
YEARS_EN = "How many years have you traded here?"
YEARS_FR = "Depuis combien d'années ?"
PERMIT_EN = "Do you have a permit?\n1. Yes\n2. No"
COMMENT_EN = "Any comment? 0 to skip."
GOODS_EN = "What do you sell? (20 letters)"
BAD_CHOICE = "Please choose a number from the list."
BAD_YEARS = "Please enter a number from 0 to 60."
TOO_MANY = "Sorry, we could not read your answers. Please dial again later."
RESUME_EN = "Welcome back. Continue where you left off?\n1. Continue\n2. Start again"

WARDS_1 = (
    "Which ward do you live in?\n1. Railways\n2. Migosi\n3. Shaurimoyo Kaloleni\n"
    "4. Market Milimani\n5. Kondele\n6. Nyalenda A\n7. Nyalenda B\n98. More"
)
WARDS_2 = (
    "Which ward do you live in?\n8. Manyatta A\n9. Manyatta B\n10. Kajulu\n11. Kolwa East\n"
    "12. Kolwa Central\n13. Kisumu North\n98. More\n0. Back"
)
WARDS_3 = (
    "Which ward do you live in?\n14. Kisumu East\n15. Kisumu Central\n16. West Kisumu\n"
    "17. North West Kisumu\n18. Central Kisemu\n98. More\n0. Back"
)
WARDS_4 = (
    "Which ward do you live in?\n19. South West Kisumu\n20. Chemelil\n21. Muhoroni\n22. Miwani\n"
    "23. Ombeyi\n24. Masogo\n25. Nyang'oma\n98. More\n0. Back"
)
WARDS_5 = (
    "Which ward do you live in?\n26. Awasi\n27. Kabonyo\n28. Kobura\n29. Ahero\n"
    "30. Another ward\n0. Back"
)


def test_every_input_type_and_quoted_answers_in_english(market, play):
    turns = play(
        market,
        [
            ("*384#", PICKER),
            ("1", STALL_EN),
            ("1", YEARS_EN),
            ("1", PERMIT_EN),
            ("yes", COMMENT_EN),
            ("  Clean   water please ", "Thanks! Fish for 1 years. Comment: Clean water please"),
        ],
    )
    final = turns[-1]
    assert final.screen.final and final.state.done
    assert final.state.answers == {
        "stall": "fish",
        "years": 1,
        "permit": "yes",
        "comment": "Clean water please",
    }
    assert [e for t in turns for e in t.events if not isinstance(e, RunCompleted)] == [
        LanguageChosen("en"),
        AnswerRecorded("stall", "fish", "stall"),
        AnswerRecorded("years", 1, "years"),
        AnswerRecorded("permit", "yes", "permit"),
        AnswerRecorded("comment", "Clean water please", "comment"),
    ]
    assert final.events[-1] == RunCompleted(final.state)


def test_french_skip_logic_and_skipped_answers(market, play):
    """other -> goods (text); 5 years skips the permit question; "0" skips the comment."""
    turns = play(
        market,
        [
            ("*384#", PICKER),
            ("2", STALL_FR),
            ("3", "Que vendez-vous ? (20 lettres)"),
            ("Charbon", YEARS_FR),
            ("5", "Un commentaire ? 0 pour passer."),
            ("0", "Merci ! Vous vendez Charbon. Permis : -."),
        ],
    )
    assert turns[-1].state.answers == {"stall": "other", "goods": "Charbon", "years": 5}
    assert turns[-1].state.language == "fr"


def test_choice_label_is_quoted_in_the_citizens_language(market, play):
    play(
        market,
        [
            ("*384#", PICKER),
            ("2", STALL_FR),
            ("maïs", YEARS_FR),
            ("12", "Un commentaire ? 0 pour passer."),
            ("", "Merci ! Maïs depuis 12 ans. Commentaire : -"),
        ],
    )


def test_route_on_yes_no_ends_early(market, play):
    play(
        market,
        [
            ("*384#", PICKER),
            ("1", STALL_EN),
            ("2", YEARS_EN),
            ("0", PERMIT_EN),
            ("2", "Please visit the county office for a permit."),
        ],
    )


def test_invalid_answers_reprompt_with_what_was_wrong(market, play):
    play(
        market,
        [
            ("*384#", PICKER),
            ("1", STALL_EN),
            ("4", f"{BAD_CHOICE}\n{STALL_EN}"),
            ("3", GOODS_EN),
            ("", f"Please type an answer.\n{GOODS_EN}"),
            ("x" * 21, f"Please use at most 20 characters.\n{GOODS_EN}"),
            ("Charcoal", YEARS_EN),
            ("ten", f"{BAD_YEARS}\n{YEARS_EN}"),
            ("61", f"{BAD_YEARS}\n{YEARS_EN}"),
            ("3", COMMENT_EN),
        ],
    )


def test_zero_and_98_are_invalid_on_a_menu_that_fits_one_screen(market, play):
    play(
        market,
        [
            ("*384#", PICKER),
            ("1", STALL_EN),
            ("98", f"{BAD_CHOICE}\n{STALL_EN}"),
            ("0", f"{BAD_CHOICE}\n{STALL_EN}"),
            ("2", YEARS_EN),
        ],
    )


def test_max_attempts_invalid_answers_end_politely(market, play):
    turns = play(
        market,
        [
            ("*384#", PICKER),
            ("1", STALL_EN),
            ("1", YEARS_EN),
            ("-1", f"{BAD_YEARS}\n{YEARS_EN}"),
            ("1.5", f"{BAD_YEARS}\n{YEARS_EN}"),
            ("one", TOO_MANY),
        ],
    )
    last = turns[-1]
    assert last.screen.final and last.state.done
    assert last.state.attempts == 3 and last.state.step == "years"
    assert last.events == (RunAbandoned(last.state, "too_many_attempts"),)


def test_attempts_count_per_step(market, play):
    turns = play(
        market,
        [
            ("*384#", PICKER),
            ("9", f"{BAD_CHOICE}\n{PICKER}"),
            ("9", f"{BAD_CHOICE}\n{PICKER}"),
            ("1", STALL_EN),
            ("9", f"{BAD_CHOICE}\n{STALL_EN}"),
        ],
    )
    assert turns[-1].state.attempts == 1


@pytest.mark.parametrize("typed", ["1", "yes", "YES", "Oui", " oui "])
def test_yes_accepts_the_number_and_the_words(market, texts, typed):
    state = RunState("r", "market", "permit", "en", {"stall": "fish", "years": 0})
    turn = engine.resume(market, texts, state, typed, fresh_run_id="r2")
    assert turn.state.answers["permit"] == "yes"


@pytest.mark.parametrize("typed", ["2", "no", "Non"])
def test_no_accepts_the_number_and_the_words(market, texts, typed):
    state = RunState("r", "market", "permit", "en", {"stall": "fish", "years": 0})
    turn = engine.resume(market, texts, state, typed, fresh_run_id="r2")
    assert turn.state.answers["permit"] == "no"


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("2", "maize"),
        ("Maize", "maize"),
        ("MAIS", "maize"),
        ("maïs", "maize"),
        ("something  else", "other"),
        ("other", "other"),
        ("Poisson", "fish"),
    ],
)
def test_choice_accepts_the_number_a_label_or_a_value(market, texts, typed, value):
    state = RunState("r", "market", "stall", "en")
    assert engine.resume(market, texts, state, typed, fresh_run_id="r2").state.answers == {
        "stall": value
    }


def test_remembered_language_skips_the_picker(market, play):
    turns = play(market, [("*384#", STALL_FR), ("1", YEARS_FR)], language="fr")
    assert turns[0].events == ()
    assert turns[0].state.language == "fr"


def test_unknown_remembered_language_shows_the_picker(market, play):
    play(market, [("*384#", PICKER), ("Français", STALL_FR)], language="sw")


def test_missing_text_falls_back_to_the_default_language(texts, play):
    flow = load_flow(BROKEN / "missing_text.toml")
    play(
        flow,
        [
            ("*384#", "How many years have you traded here?"),
            ("x", "Entrez un nombre de 0 à 60.\nHow many years have you traded here?"),
            ("7", "Merci : 7 ans."),
        ],
        language="fr",
    )


def test_paged_menu_more_and_back(wards, play):
    turns = play(
        wards,
        [
            ("*384#", WARDS_1),
            ("98", WARDS_2),
            ("98", WARDS_3),
            ("98", WARDS_4),
            ("98", WARDS_5),
            ("0", WARDS_4),
            ("0", WARDS_3),
            ("17", "Registered in North West Kisumu."),
        ],
    )
    assert [t.state.page for t in turns[:-1]] == [0, 1, 2, 3, 4, 3, 2]
    assert all(t.events == () for t in turns[:-1])


def test_paged_menu_error_keeps_the_page_and_its_boundaries(wards, play):
    play(
        wards,
        [
            ("*384#", WARDS_1),
            ("0", f"{BAD_CHOICE}\n{WARDS_1}"),
            ("98", WARDS_2),
            ("31", TOO_MANY),  # wards allows 2 attempts
        ],
    )
    play(
        wards,
        [
            ("*384#", WARDS_1),
            ("98", WARDS_2),
            ("98", WARDS_3),
            ("98", WARDS_4),
            ("98", WARDS_5),
            ("98", f"{BAD_CHOICE}\n{WARDS_5}"),
            ("ahero", "Registered in Ahero."),
        ],
    )


def test_a_number_from_another_page_is_accepted(wards, play):
    play(wards, [("*384#", WARDS_1), ("30", "Registered in Another ward.")])


def test_resume_continue_shows_the_same_step_and_page(wards, texts, play):
    paged = play(wards, [("*384#", WARDS_1), ("98", WARDS_2), ("98", WARDS_3)])[-1]
    offered = engine.offer_resume(wards, texts, paged.state)
    assert offered.screen.text == RESUME_EN and not offered.screen.final
    assert offered.state.pending == "resume" and offered.events == ()
    turns = play(
        wards,
        [
            ("3", f"{BAD_CHOICE}\n{RESUME_EN}"),
            ("1", WARDS_3),
            ("0", WARDS_2),
        ],
        turn=offered,
    )
    assert turns[1].state == paged.state


def test_resume_start_again_abandons_the_old_run(market, texts, play):
    old = play(market, [("*384#", PICKER), ("2", STALL_FR), ("1", YEARS_FR)])[-1]
    offered = engine.offer_resume(market, texts, old.state)
    assert offered.screen.text == "Bon retour ! Reprendre ?\n1. Reprendre\n2. Recommencer"
    fresh = play(market, [("2", STALL_FR)], turn=offered)[0]
    assert fresh.events == (RunAbandoned(old.state, "restarted"),)
    assert fresh.state == RunState("run-2", "market", "stall", "fr")


def test_resume_of_a_step_removed_from_the_flow_starts_again(market, texts):
    stale = RunState("old", "market", "gone", "en", {"stall": "fish"})
    turn = engine.resume(market, texts, stale, "1", fresh_run_id="new")
    assert turn.events == (RunAbandoned(stale, "flow_changed"),)
    assert turn.state == RunState("new", "market", "stall", "en")
    assert turn.screen.text == STALL_EN


def test_same_inputs_give_the_same_turns(market, play):
    transcript = [
        ("*384#", PICKER),
        ("2", STALL_FR),
        ("x", f"Choisissez un numéro de la liste.\n{STALL_FR}"),
        ("1", YEARS_FR),
    ]
    first = play(market, transcript)
    before = first[2].state.to_json()
    assert play(market, transcript) == first
    assert first[2].state.to_json() == before  # resuming did not mutate an earlier state


def test_render_is_the_screen_of_the_state(market, texts, play):
    for turn in play(market, [("*384#", PICKER), ("1", STALL_EN), ("2", YEARS_EN)]):
        assert engine.render(market, texts, turn.state) == turn.screen


def test_run_state_json_round_trip():
    state = RunState(
        "8f14e45fceea167a5a36dedd4bea2543",
        "market",
        "comment",
        "fr",
        {"stall": "other", "goods": "Mandazi é ü", "years": 12},
        page=2,
        attempts=1,
        pending="resume",
        done=False,
    )
    raw = state.to_json()
    assert " " not in raw.replace("Mandazi é ü", "")
    assert json.loads(raw) == {
        "i": "8f14e45fceea167a5a36dedd4bea2543",
        "f": "market",
        "s": "comment",
        "l": "fr",
        "a": {"stall": "other", "goods": "Mandazi é ü", "years": 12},
        "p": 2,
        "n": 1,
        "r": "resume",
    }
    assert RunState.from_json(raw) == state
    assert RunState.from_json(raw.encode()) == state
    assert RunState.from_json(RunState("r", "f", "s", "en").to_json()) == RunState(
        "r", "f", "s", "en"
    )


def worst_answers(flow):
    """Every result key with its longest possible value (2-byte letters in free text)."""
    answers = {}
    for step in flow.steps.values():
        if step.type == "text":
            answers[step.result] = "é" * step.max_length
        elif step.type == "number":
            answers[step.result] = min(step.min, -abs(step.max))
        elif step.result:
            values = [o.value for o in step.options] or ["yes"]
            answers[step.result] = max(values, key=len)
    return answers


@pytest.mark.parametrize("name", ["market", "wards"])
def test_run_state_json_stays_small_in_the_worst_case(good, name):
    flow = good[0][name]
    longest_step = max(flow.steps, key=len)
    state = RunState(
        "8f14e45fceea167a5a36dedd4bea2543",
        flow.name,
        longest_step,
        "fr",
        worst_answers(flow),
        page=4,
        attempts=2,
        pending="resume",
    )
    assert len(state.to_json().encode()) < 400


@pytest.mark.parametrize(
    "raw", ["", "[]", '{"i": "r"}', '{"i":1,"f":"m","s":"a","l":"en","a":{}}', b"\xff"]
)
def test_run_state_from_garbage_is_a_value_error(raw):
    with pytest.raises(ValueError, match="not a run state"):
        RunState.from_json(raw)


def test_the_engine_modules_import_nothing_that_does_io():
    """Purity by construction: no clock, randomness, files or network in the engine's modules."""
    import ast

    import gateway.flows as package

    forbidden = {"os", "time", "datetime", "random", "uuid", "pathlib", "socket", "redis", "io"}
    for name in ("model", "inputs", "pagination", "render", "engine"):
        source = (Path(package.__file__).parent / f"{name}.py").read_text()
        imported = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
        assert not imported & forbidden, name

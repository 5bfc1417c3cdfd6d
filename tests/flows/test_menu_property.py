"""The property the issue asks for, through the real checker and engine (not just `paginate`).

For any menu a flow can hold (a choice step that `gateway flows check` accepts: 1 to 97 options,
any labels, any prompt, in one to three languages), in every language:
- every screen the citizen can see is at most 182 characters: each page, and each page again
  with the error line of a wrong answer;
- every option is reachable: shown exactly once, under its own number, on a page reached from
  the first with "98. More" (and back with "0. Back"), and typing that number records it.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gateway.flows import engine
from gateway.flows.check import check_flow
from gateway.flows.engine import AnswerRecorded, Turn
from gateway.flows.model import Flow, Option, Step
from gateway.flows.pagination import BACK, LIMIT, MAX_OPTIONS, MORE
from gateway.flows.texts import SystemTexts

REPO = Path(__file__).resolve().parents[2]
TEXTS = SystemTexts.load(REPO / "flows" / "_system.toml")
LANGUAGES = ["en", "sw", "fr"]

# No braces: a `{key}` in a prompt is a quote, which the checker judges separately.
ONE_LINE = st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters="{}")


def sized_text(low: int, high: int) -> st.SearchStrategy[str]:
    """One line of text, its length spread evenly over [low, high]."""
    return st.integers(low, high).flatmap(lambda n: st.text(ONE_LINE, min_size=n, max_size=n))


def sized_label(low: int, high: int) -> st.SearchStrategy[str]:
    """A label of any length in [low, high]: one letter repeated, so 97 options in 3 languages
    stay within what hypothesis can draw (only a label's length matters to the layout)."""
    return st.builds(lambda n, letter: letter * n, st.integers(low, high), ONE_LINE)


@st.composite
def menu_flows(draw: st.DrawFn) -> Flow:
    languages = draw(st.permutations(LANGUAGES))[: draw(st.integers(1, len(LANGUAGES)))]
    count = draw(st.integers(1, MAX_OPTIONS))

    def texts(strategy: st.SearchStrategy[str]) -> dict[str, str]:
        return {language: draw(strategy) for language in languages}

    options = tuple(Option(f"v{n}", texts(sized_label(1, 40))) for n in range(1, count + 1))
    pick = Step("pick", "choice", prompt=texts(sized_text(1, 90)), options=options,
                result="pick", next="done")
    done = Step("done", "end", text={language: "Done." for language in languages})
    return Flow("menu", {}, tuple(languages), languages[0], {"pick": pick, "done": done})


def shown_options(flow: Flow, turn: Turn) -> list[str]:
    """The option lines under the prompt, navigation lines left out."""
    prompt = flow.steps["pick"].prompt[turn.state.language]
    assert turn.screen.text.startswith(prompt + "\n")
    lines = turn.screen.text[len(prompt) + 1 :].split("\n")
    return [line for line in lines if not line.startswith((f"{MORE}. ", f"{BACK}. "))]


def resume(flow: Flow, turn: Turn, typed: str) -> Turn:
    return engine.resume(flow, TEXTS, turn.state, typed, fresh_run_id="run-2")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow=menu_flows())
def test_every_page_fits_and_every_option_is_reachable(flow: Flow) -> None:
    problems = check_flow(flow, TEXTS)
    event("refused by the checker" if problems else "accepted by the checker")
    if problems:  # the server would refuse this flow; make sure it is for a screen too long
        assert all("over the limit of 182" in problem.message for problem in problems), problems
        return
    step = flow.steps["pick"]
    for language in flow.languages:
        turn = engine.start(flow, TEXTS, run_id="run-1", language=language)
        labels = [option.label[language] for option in step.options]
        seen: list[str] = []
        while True:
            assert len(turn.screen.text) <= LIMIT and not turn.screen.final
            wrong = resume(flow, turn, "not a number")
            assert len(wrong.screen.text) <= LIMIT
            assert wrong.screen.text.endswith("\n" + turn.screen.text)  # same page, error on top
            for line in shown_options(flow, turn):
                number, label = line.split(". ", 1)
                assert label == labels[int(number) - 1]
                chosen = resume(flow, turn, number)
                assert AnswerRecorded("pick", f"v{number}", "pick") in chosen.events
                assert chosen.screen == engine.render(flow, TEXTS, chosen.state)
                seen.append(number)
            more = resume(flow, turn, MORE)
            if more.state.page == turn.state.page:  # no next page: 98 was a wrong answer
                break
            turn = more
        assert seen == [str(n) for n in range(1, len(labels) + 1)], language
        while turn.state.page > 0:
            back = resume(flow, turn, BACK)
            assert back.state.page == turn.state.page - 1
            turn = back
        assert turn.screen == engine.start(flow, TEXTS, run_id="run-1", language=language).screen

"""The golden transcripts played through the pure engine: no Redis, no HTTP.

The same files are played through the real USSD endpoint elsewhere; here a mismatch points at
the flow files, the system texts or the engine's layout, not at sessions or the webhook.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from transcript import Transcript, load_transcripts

from gateway.areas import default_tree
from gateway.flows import engine
from gateway.flows.check import load_checked
from gateway.flows.model import Flow
from gateway.flows.render import Screen
from gateway.flows.texts import SystemTexts
from gateway.reports.reference import reference_for

REPO = Path(__file__).resolve().parent.parent
TRANSCRIPTS = REPO / "tests" / "transcripts"
LIMIT = 182
REFERENCE = re.compile(r"\bR-[0-9A-HJKMNP-TV-Z]{4,5}\b")
MASKED = "R-####"  # run ids differ between runners: transcripts show references masked


def masked(screen: str) -> str:
    return REFERENCE.sub(MASKED, screen)


def data(flow: Flow, run_id: str) -> engine.FlowData:
    """What the USSD host lends the engine: the bundled area tree and the report's reference."""
    context = {"reference": reference_for(run_id)} if flow.kind == "report" else {}
    return engine.FlowData(areas=default_tree(), context=context)


def _routes() -> dict[str, str]:
    settings = tomllib.loads((REPO / "settings.toml").read_text(encoding="utf-8"))
    return settings["ussd"]["routes"]


def _cases() -> list:
    """Every transcript but those where the citizen dials again (the host decides what then)."""
    return [
        pytest.param(path, transcript, id=f"{path.stem}: {transcript.name}")
        for path in sorted(TRANSCRIPTS.glob("*.txt"))
        for transcript in load_transcripts(path)
        if not transcript.redials()
    ]


@pytest.fixture(scope="module")
def loaded() -> tuple[dict[str, Flow], SystemTexts]:
    return load_checked(REPO / "flows")


def shown(screen: Screen) -> str:
    return ("END " if screen.final else "CON ") + screen.text


def play(flow: Flow, texts: SystemTexts, transcript: Transcript) -> list[str]:
    """The screens a fresh phone gets for the transcript's inputs, stopping at the first END."""
    turn = engine.start(flow, texts, run_id="run-0", language=None, data=data(flow, "run-0"))
    screens = [shown(turn.screen)]
    for number, hop in enumerate(transcript.hops[1:], start=1):
        if turn.screen.final:
            break
        turn = engine.resume(
            flow, texts, turn.state, hop.typed, fresh_run_id=f"run-{number}",
            data=data(flow, turn.state.run_id),
        )
        screens.append(masked(shown(turn.screen)))
    return screens


@pytest.mark.parametrize(("path", "transcript"), _cases())
def test_transcript(path: Path, transcript: Transcript, loaded) -> None:
    flows, texts = loaded
    flow_name = _routes()[transcript.dial]
    assert path.name.startswith(f"{flow_name}."), f"{transcript.dial} routes to {flow_name}"
    screens = play(flows[flow_name], texts, transcript)
    for hop, screen in zip(transcript.hops, screens, strict=False):
        assert screen == hop.screen, f"after > {hop.typed}"
        assert len(screen) - len("CON ") <= LIMIT
    assert len(screens) == len(transcript.hops), "the session ended before the transcript did"
    assert screens[-1].startswith("END "), "every transcript plays a session to its END"


def test_every_flow_has_a_transcript_per_language(loaded) -> None:
    flows, _ = loaded
    missing = [
        f"{name}.{language}.txt"
        for name, flow in flows.items()
        for language in flow.languages
        if not (TRANSCRIPTS / f"{name}.{language}.txt").exists()
    ]
    assert missing == []

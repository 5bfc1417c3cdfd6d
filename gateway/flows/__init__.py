"""Flows: TOML files that say what a citizen is asked, and the pure engine that runs them.

model (what a flow is) <- loader (TOML -> Flow, with source for line numbers) <- check
(`gateway flows check`)
inputs (reading replies) + pagination (cutting menus into screens) <- render <- engine

`gateway.flows.render` is the screen layout module; the engine's `render(flow, texts, state)`
is `gateway.flows.engine.render`.
"""

from gateway.flows.engine import (
    AnswerRecorded,
    Event,
    FlowBroken,
    LanguageChosen,
    RunAbandoned,
    RunCompleted,
    RunState,
    Turn,
    offer_resume,
    resume,
    start,
)
from gateway.flows.loader import FlowError, Problem, load_flow, load_flows
from gateway.flows.model import Flow, Option, Route, Step
from gateway.flows.render import Screen
from gateway.flows.texts import SystemTexts

__all__ = [
    "AnswerRecorded",
    "Event",
    "Flow",
    "FlowBroken",
    "FlowError",
    "LanguageChosen",
    "Option",
    "Problem",
    "Route",
    "RunAbandoned",
    "RunCompleted",
    "RunState",
    "Screen",
    "Step",
    "SystemTexts",
    "Turn",
    "load_flow",
    "load_flows",
    "offer_resume",
    "resume",
    "start",
]

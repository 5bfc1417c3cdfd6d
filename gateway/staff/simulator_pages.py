"""The web simulator: an admin plays any flow as a phone screen, against the real engine.

Each step is a plain form POST (no JavaScript needed) that goes through the same code as the
webhooks: `handle_hop(..., simulated=True)` for USSD, `conversation.receive(..., simulated=True)`
for SMS. So the screens are exactly what a citizen sees, and the runs are marked simulated and
kept apart from real results (report flows file nothing).

Where the simulation lives: server-side, in Redis under `gw:staff:sim:{sha256(staff session)}`,
expiring with the staff session's idle timeout. The browser only ever posts what was typed, so
there is nothing to tamper with and nothing to sign, and one admin cannot see or drive
another's simulation. The made-up phone number is derived from the staff session, so a new
log-in is a new "citizen" while "Start again" within one keeps the engine's resume behaviour.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.channels.africastalking import UssdHop
from gateway.channels.base import InboundSms
from gateway.hop import handle_hop
from gateway.phone import pseudonym
from gateway.simulate import keyword_for, route_for
from gateway.sms import conversation, sessions
from gateway.sms.encoding import prepare
from gateway.staff import audit
from gateway.staff.pages import Context, render, staff_page
from gateway.staff.pages import field as form_field

if TYPE_CHECKING:
    from gateway.runtime import Runtime

CHANNELS = {"ussd": "USSD", "sms": "SMS"}
PHONE_PREFIX = "+2547000"  # + 5 digits from the staff session: a made-up Safaricom-style number
INPUT_LIMIT = 160  # a phone keypad entry or one SMS; longer posts are cut


@dataclass
class Simulation:
    """One simulated citizen's conversation: what the phone shows and what was typed."""

    flow: str
    channel: str  # "ussd" | "sms"
    code: str  # the USSD code dialled, or the SMS keyword texted first
    phone: str
    session_id: str  # USSD: one dial; a new one on "Start again"
    typed: list[str] = field(default_factory=list)  # USSD: inputs of this dial, joined by "*"
    screen: str = ""  # USSD: the current screen, without CON/END
    final: bool = False  # the session or run has ended: only "Start again" is left
    thread: list[list[str]] = field(default_factory=list)  # SMS: [who, text], oldest first
    history: list[list[str]] = field(default_factory=list)  # USSD: [typed, screen] so far


def state_key(staff_session_id: str) -> str:
    return "gw:staff:sim:" + hashlib.sha256(staff_session_id.encode()).hexdigest()


def phone_for(staff_session_id: str) -> str:
    """A made-up number that stays the same for one log-in (so resuming can be tried)."""
    digits = int(hashlib.sha256(b"sim" + staff_session_id.encode()).hexdigest(), 16) % 100000
    return f"{PHONE_PREFIX}{digits:05d}"


async def load(ctx: Context) -> Simulation | None:
    raw = await ctx.runtime.redis.get(state_key(ctx.session.id))
    if raw is None:
        return None
    try:
        return Simulation(**json.loads(raw))
    except (ValueError, TypeError):  # an older shape: start afresh
        return None


async def save(ctx: Context, sim: Simulation) -> None:
    ttl = ctx.runtime.settings.staff.idle_timeout_minutes * 60
    await ctx.runtime.redis.set(state_key(ctx.session.id), json.dumps(dataclasses.asdict(sim)),
                                ex=ttl)


# --- Playing: the same code paths as the webhooks ----------------------------------------------


def routed(runtime: Runtime, flow: str, channel: str) -> tuple[Runtime, str]:
    """The runtime to play with and the code/keyword: `gateway simulate`'s rules, so a flow
    without a route gets a private one for the simulator only."""
    if channel == "sms":
        settings, code = keyword_for(runtime.settings, flow, None)
    else:
        settings, code = route_for(runtime.settings, flow, None)
    if code is None:
        raise LookupError(flow)
    if settings is runtime.settings:
        return runtime, code
    return dataclasses.replace(runtime, settings=settings), code


async def dial(runtime: Runtime, sim: Simulation) -> None:
    """A USSD hop with everything typed in this dial so far; the screen replaces the last."""
    runtime, _ = routed(runtime, sim.flow, "ussd")
    hop = UssdHop(sim.session_id, sim.code, sim.phone, "sim", "*".join(sim.typed))
    screen = await handle_hop(runtime, hop, simulated=True)
    sim.screen, sim.final = screen.text, screen.final
    sim.history.append([sim.typed[-1] if sim.typed else sim.code, screen.text])


async def text(runtime: Runtime, sim: Simulation, message: str) -> None:
    """One SMS from the simulated citizen; the replies are what the outbox would send."""
    runtime, _ = routed(runtime, sim.flow, "sms")
    sms = InboundSms("simulate", f"sim-{uuid.uuid4().hex}", sim.phone, "simulate", message)
    received = await conversation.receive(runtime, sms, simulated=True)
    sim.thread.append(["citizen", message])
    transliterate = runtime.settings.sms.transliterate
    for reply in received.replies:
        sim.thread.append(["gateway", prepare(reply.text, transliterate=transliterate)])
    contact = pseudonym(sim.phone, runtime.settings.secret_key)
    sim.final = (await sessions.load(runtime.redis, contact)).run is None


async def start(runtime: Runtime, flow: str, channel: str, phone: str) -> Simulation:
    _, code = routed(runtime, flow, channel)
    sim = Simulation(flow, channel, code, phone, f"sim-{uuid.uuid4().hex}")
    if channel == "sms":
        await text(runtime, sim, code)
    else:
        await dial(runtime, sim)
    return sim


async def send(runtime: Runtime, sim: Simulation, typed: str) -> None:
    if sim.final:
        return
    if sim.channel == "sms":
        await text(runtime, sim, typed)
    else:
        sim.typed.append(typed)
        await dial(runtime, sim)


# --- Pages -------------------------------------------------------------------------------------


@staff_page(role="admin")
async def simulator_page(request: Request, ctx: Context) -> Response:
    return render(request, "simulator.html", **await _view(ctx, None))


@staff_page(role="admin")
async def simulator_post(request: Request, ctx: Context) -> Response:
    """start | send | hangup; then back to the page (post/redirect/get, so reload is safe)."""
    action = form_field(ctx, "action")
    if action == "hangup":
        await ctx.runtime.redis.delete(state_key(ctx.session.id))
    elif action == "send":
        sim = await load(ctx)
        if sim is not None:
            await send(ctx.runtime, sim, _typed(ctx))
            await save(ctx, sim)
    elif action in ("start", "restart"):
        return await _start(request, ctx, action)
    return RedirectResponse("/staff/simulator", 303)


async def _start(request: Request, ctx: Context, action: str) -> Response:
    previous = await load(ctx) if action == "restart" else None
    flow = previous.flow if previous else form_field(ctx, "flow")
    channel = previous.channel if previous else form_field(ctx, "channel")
    if flow not in ctx.runtime.flows or channel not in CHANNELS:
        return render(request, "simulator.html", 400,
                      **await _view(ctx, "Pick a flow and a channel from the lists."))
    sim = await start(ctx.runtime, flow, channel, phone_for(ctx.session.id))
    await save(ctx, sim)
    await run_in_threadpool(_audit, ctx, sim)
    return RedirectResponse("/staff/simulator", 303)


def _typed(ctx: Context) -> str:
    value = ctx.form.get("input") if ctx.form is not None else None
    return value.strip()[:INPUT_LIMIT] if isinstance(value, str) else ""


def _audit(ctx: Context, sim: Simulation) -> None:
    with Session(ctx.runtime.engine) as session:
        audit.record(session, ctx.actor, "simulator_start", target=sim.flow,
                     detail=f"{CHANNELS[sim.channel]} {sim.code} as {sim.phone}")
        session.commit()


async def _view(ctx: Context, error: str | None) -> dict[str, Any]:
    runtime = ctx.runtime
    codes = {flow: code for code, flow in runtime.settings.ussd.routes.items()}
    flows = [(name, codes.get(name, "")) for name in sorted(runtime.flows)]
    return {
        "sim": await load(ctx),
        "flows": flows,
        "channels": CHANNELS,
        "phone": phone_for(ctx.session.id),
        "error": error,
    }


routes: list[BaseRoute] = [
    Route("/staff/simulator", simulator_page, methods=["GET"]),
    Route("/staff/simulator", simulator_post, methods=["POST"]),
]

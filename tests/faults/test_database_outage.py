"""The database goes away and comes back: USSD carries on, nothing is lost, nothing doubles.

`gateway web` and `gateway worker` reach PostgreSQL through a TCP proxy that the test cuts:
first the worst case, a black hole that accepts connections and never answers, then the
database "host is down" (connections refused). Meanwhile:

- citizens walk the budget poll and the report flow (`*384*2#`) to the end over USSD: the hop
  needs only Redis (the "My reports" lookup gives up quickly and the menu still shows);
- inbound SMS, delivery reports and session events cannot be accepted: they get a 503 well
  inside Africa's Talking's 10 s, so the provider retries;
- nothing reaches SQL.
Once the proxy forwards again, the worker writes every finished run and files every report,
and the providers' retries (same ids) are processed, each exactly once.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from outbox_support import make_message
from sms_support import at_form, next_id, twilio_form
from sqlalchemy import func
from sqlmodel import Session, select
from ussd_support import Citizen, fresh_phone

from gateway.channels import twilio
from gateway.config import load_settings
from gateway.models import FlowRun, InboundMessage, OutboundMessage, Report
from gateway.phone import pseudonym

from .conftest import Web, all_settled, fault_environ, wait_for

pytestmark = [pytest.mark.fault, pytest.mark.slow]

AT_GIVES_UP_SECONDS = 10.0  # Africa's Talking's timeout: a later answer is no answer
BUDGET_WALK = ("1", "7", "3", "5", "0", "1")  # English, a project, age, ward, no comment, send
REPORT_WALK = ("1", "1", "1", "1", "2", "3", "0", "Kiosk tap broken", "1")  # ... water, ward


def test_a_database_outage_loses_nothing_and_doubles_nothing(
    processes, emulator, private_redis, database_proxy, db_engine, tmp_path,
):
    proxy, through_proxy = database_proxy
    env = fault_environ(redis_url=private_redis().url, database_url=through_proxy,
                        tmp_path=tmp_path, emulator_url=emulator.url)
    settings = load_settings(env)
    web = processes.web(env)
    processes.worker(env)
    sent_before = [make_message(db_engine, settings, number=fresh_phone(), provider=provider,
                                status="sent", kind="bulk",
                                provider_id=next_id("ATXid_" if provider == "africastalking"
                                                    else "SM"))
                   for provider in ("africastalking", "twilio") for _ in range(2)]
    assert httpx.get(web.url + "/healthz").status_code == 200

    figures = Outage()
    for hang in (True, False):  # a black hole first: the hop's "My reports" lookup times out
        proxy.cut(hang=hang)
        health = httpx.get(web.url + "/healthz", timeout=AT_GIVES_UP_SECONDS)
        assert health.status_code == 503 and health.json()["redis"] == "ok"
        assert health.json()["database"].startswith("down")
        figures.walk(web, budget=10, reports=3 if hang else 2)
        figures.refused(web, sms=5, reports=sent_before[0::2] if hang else sent_before[1::2],
                        settings=settings)
    assert count(db_engine, FlowRun) == 0 and count(db_engine, InboundMessage) == 0

    proxy.restore()
    wait_for(lambda: count(db_engine, FlowRun) == figures.runs, 30, "the runs to be written")
    wait_for(lambda: count(db_engine, Report) == figures.reports, 10, "the reports to be filed")
    for path, form, headers in figures.retries:  # the providers retry, with the same ids
        response = web.post(path, form, headers=headers, timeout=AT_GIVES_UP_SECONDS)
        assert response.status_code == 200, response.text

    with Session(db_engine) as session:
        runs = session.exec(select(FlowRun)).all()
        reports = session.exec(select(Report)).all()
        inbound = session.exec(select(InboundMessage)).all()
        replies = Counter(m.contact_pseudonym for m in session.exec(
            select(OutboundMessage).where(OutboundMessage.kind == "reply")))
        reported = {m.id: m.status for m in session.exec(select(OutboundMessage).where(
            OutboundMessage.id.in_([m.id for m in sent_before])))}  # type: ignore[union-attr]
    texters = {pseudonym(phone, settings.secret_key) for phone in figures.texters}
    walkers = [pseudonym(phone, settings.secret_key) for phone in figures.walkers]
    # Every citizen who walked a flow during the outage has exactly one completed run, and
    # every reporter one report, with the reference their END screen showed.
    assert Counter(r.contact_pseudonym for r in runs) == Counter(walkers)
    assert {r.status for r in runs} == {"completed"}
    assert sorted(r.reference for r in reports) == sorted(figures.references)
    # Each refused SMS was taken once on its retry, and answered once; each reporter got one
    # receipt; each delivery report moved its message on.
    assert sorted(m.provider_id for m in inbound) == sorted(figures.sms_ids)
    reporters = {r.reporter_pseudonym for r in reports}
    assert replies == Counter(texters | reporters)
    assert set(reported.values()) == {"delivered"}
    # The replies and the receipts reach the provider, each once.
    expected = len(figures.references) + len(figures.texters)
    wait_for(lambda: all_settled(db_engine, expected + len(sent_before)), 30,
             "the replies and receipts to be sent")
    reached = [m["to"] for m in emulator.sent()]
    doubled = len(reached) - len(set(reached))
    print(f"\ndatabase outage (a black hole, then refused): ussd_runs={figures.runs} "
          f"(budget={figures.runs - figures.reports} reports={figures.reports}) "
          f"written_after={len(runs)} reports={len(reports)} sms_503={len(figures.sms_ids)} "
          f"delivery_503={len(sent_before)} events_503={figures.events} "
          f"slowest_503={figures.slowest:.1f}s slowest_hop={figures.slowest_hop * 1000:.0f}ms "
          f"sms_after={len(inbound)} "
          f"replies={sum(replies[t] for t in texters)} "
          f"receipts={sum(replies[r] for r in reporters)} "
          f"sent={len(reached)} doubled={doubled}")
    assert doubled == 0 and len(reached) == expected


class Outage:
    """What the citizens and the providers did while the database was away."""

    def __init__(self) -> None:
        self.walkers: list[str] = []
        self.references: list[str] = []
        self.texters: list[str] = []
        self.sms_ids: list[str] = []
        self.retries: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.events = 0
        self.slowest = 0.0  # the slowest 503
        self.slowest_hop = 0.0

    @property
    def runs(self) -> int:
        return len(self.walkers)

    @property
    def reports(self) -> int:
        return len(self.references)

    def walk(self, web: Web, *, budget: int, reports: int) -> None:
        """Citizens walk a flow to its END screen, over USSD."""
        with httpx.Client(base_url=web.url, timeout=AT_GIVES_UP_SECONDS) as client:
            for code, walk, how_many in (("*384*1#", BUDGET_WALK, budget),
                                         ("*384*2#", REPORT_WALK, reports)):
                for _ in range(how_many):
                    citizen = Citizen(client, code=code)
                    started = time.monotonic()
                    assert citizen.dial().startswith("CON Language")
                    self.slowest_hop = max(self.slowest_hop, time.monotonic() - started)
                    for answer in walk:
                        started = time.monotonic()
                        screen = citizen.type(answer)
                        self.slowest_hop = max(self.slowest_hop, time.monotonic() - started)
                    assert screen.startswith("END Thank you"), screen
                    self.walkers.append(citizen.phone)
                    if code == "*384*2#":
                        self.references.append(screen.split("Your report is ")[1][:6])
            session_end = {"sessionId": f"ATUid_{uuid.uuid4().hex}", "serviceCode": "*384*1#",
                           "phoneNumber": fresh_phone(), "networkCode": "63902",
                           "status": "Success", "cost": "KES 0.50", "durationInMillis": "9000",
                           "hopsCount": "7", "input": "1*7*3*5*0*1", "lastAppResponse": "END",
                           "errorMessage": "", "date": "2025-01-01 10:00:00"}
            assert client.post("/ussd/africastalking/events", data=session_end).status_code == 503
            self.events += 1

    def refused(self, web: Web, *, sms: int, reports: list[OutboundMessage], settings) -> None:
        """Inbound SMS and delivery reports, all at once: each gets a 503, in time."""
        token = settings.twilio_auth_token
        posts = []
        for i in range(sms):
            phone = fresh_phone()
            if i % 2:
                form = twilio_form(phone, "POLL")
                posts.append(("/sms/twilio", form, self._signed(web, "/sms/twilio", form, token),
                              form["MessageSid"]))
            else:
                form = at_form(phone, "POLL")
                posts.append(("/sms/africastalking", form, {}, form["id"]))
            self.texters.append(phone)
        for message in reports:
            if message.provider == "twilio":
                form = {"MessageSid": message.provider_id, "MessageStatus": "delivered",
                        "AccountSid": "ACemulator0000000000000000000000", "To": fresh_phone()}
                posts.append(("/sms/twilio/status", form,
                              self._signed(web, "/sms/twilio/status", form, token), None))
            else:
                form = {"id": message.provider_id, "status": "Success",
                        "phoneNumber": fresh_phone(), "networkCode": "63902",
                        "failureReason": "", "retryCount": "0"}
                posts.append(("/sms/africastalking/delivery", form, {}, None))
        with ThreadPoolExecutor(len(posts)) as pool:
            answers = list(pool.map(lambda post: self._timed(web, *post[:3]), posts))
        for (path, form, headers, sms_id), (status, seconds) in zip(posts, answers, strict=True):
            assert status == 503, f"{path} answered {status} during the outage"
            self.slowest = max(self.slowest, seconds)
            self.retries.append((path, form, headers))
            if sms_id:
                self.sms_ids.append(sms_id)

    @staticmethod
    def _timed(web: Web, path: str, form: dict[str, str], headers: dict[str, str]):
        started = time.monotonic()
        response = web.post(path, form, headers=headers, timeout=AT_GIVES_UP_SECONDS)
        return response.status_code, time.monotonic() - started

    @staticmethod
    def _signed(web: Web, path: str, form: dict[str, str], token: str) -> dict[str, str]:
        return {twilio.SIGNATURE_HEADER: twilio.sign(web.url + path, form, token)}


def count(engine, model) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()

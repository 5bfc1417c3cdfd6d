"""The golden transcripts played through POST /ussd/africastalking, as Africa's Talking sends them.

Unlike the engine replay, this goes through form parsing, text splitting, the Redis session
store and the reply rendering; a difference here but not there points at the host.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from transcript import Transcript, load_transcripts
from ussd_support import fresh_phone, hop_form

TRANSCRIPTS = Path(__file__).resolve().parent / "transcripts"
REFERENCE = re.compile(r"\bR-[0-9A-HJKMNP-TV-Z]{4,5}\b")  # run ids are random here: masked


def _cases() -> list:
    cases = []
    for path in sorted(TRANSCRIPTS.glob("*.txt")):
        for transcript in load_transcripts(path):
            cases.append(pytest.param(transcript, id=f"{path.stem}: {transcript.name}"))
    return cases


@pytest.mark.parametrize("transcript", _cases())
def test_transcript_over_http(client, transcript: Transcript):
    phone, session_id, typed = fresh_phone(), f"ATUid_{abs(hash(transcript.name))}", []
    for number, hop in enumerate(transcript.hops):
        if number in transcript.redials():  # the call dropped; the citizen dials again
            session_id, typed = f"{session_id}-{number}", []
        elif number:
            typed.append(hop.typed)
        text = "*".join(typed)
        response = client.post(
            "/ussd/africastalking", data=hop_form(session_id, phone, text, transcript.dial)
        )
        assert response.status_code == 200
        shown = REFERENCE.sub("R-####", response.text)
        assert shown == hop.screen, f"hop {number}: typed {hop.typed!r}"
    assert response.text.startswith("END "), "every transcript plays a session to its END"

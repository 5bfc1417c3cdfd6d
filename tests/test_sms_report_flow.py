"""The report flow over SMS, in each language: REPORT / RIPOTI / SIGNALER, typed place names.

Over SMS the area step takes a menu number or a typed place name (AreaTree.match): one match is
accepted, several get "Did you mean", none gets the question again. The description may be 500
characters here (60 on USSD). The finished run carries the reporter's encrypted number, for the
"report received" SMS, and the end reply quotes `reference_for(run_id)`.
"""

from __future__ import annotations

import json

import pytest
from sms_support import Texter

from gateway.crypto import decrypt_number
from gateway.reports.reference import reference_for
from gateway.sessions import OUTBOX

HINT = {"en": "Reply with a number.", "sw": "Jibu kwa namba.", "fr": "Répondez par un numéro."}
CATEGORY = {
    "en": "What is the problem about?\n1. Water\n2. Roads\n3. Waste\n4. Street lights\n"
          "5. Health facility\n6. Security\n7. Other",
    "sw": "Tatizo linahusu nini?\n1. Maji\n2. Barabara\n3. Taka\n4. Taa za barabarani\n"
          "5. Kituo cha afya\n6. Usalama\n7. Nyingine",
    "fr": "Le problème concerne :\n1. Eau\n2. Routes\n3. Déchets\n4. Éclairage public\n"
          "5. Centre de santé\n6. Sécurité\n7. Autre",
}
COUNTY = {"en": "Which county?", "sw": "Kaunti gani?", "fr": "Quel comté ?"}
LANDMARK = {"en": "Nearby landmark? (0 to skip)", "sw": "Alama iliyo karibu? (0 kuruka)",
            "fr": "Repère proche ? (0 pour passer)"}
DESCRIBE = {"en": "Describe the problem:", "sw": "Eleza tatizo:", "fr": "Décrivez le problème :"}
MEAN = {"en": "Did you mean:", "sw": "Ulimaanisha:", "fr": "Vouliez-vous dire :"}

# Each row: (language, keyword, typed place, its ward code, confirm screen's first line, end text)
FLOWS = [
    ("en", "REPORT", "kondele", "kisumu-central/kondele", "Roads in Kondele: {d}",
     "Thank you. Your report is {r}. We will text you when its status changes."),
    ("sw", "RIPOTI", "laini saba", "kibra/laini-saba", "Barabara katika {w}: {d}",
     "Asante. Ripoti yako ni {r}. Tutakutumia SMS hali yake ikibadilika."),
    ("fr", "SIGNALER", "Railways, Kisumu Central", "kisumu-central/railways",
     "Routes à Railways : {d}",
     "Merci. Votre signalement : {r}. Nous vous écrirons quand son statut change."),
]


def finished(redis_sync) -> list[dict]:
    return [json.loads(raw) for raw in redis_sync.lrange(OUTBOX, 0, -1)]


@pytest.mark.parametrize(("language", "keyword", "place", "ward", "confirm", "end"), FLOWS)
def test_a_report_over_sms_in_each_language(
    client, redis_sync, language, keyword, place, ward, confirm, end
):
    tree = client.app.state.runtime.areas
    texter = Texter(client)
    assert texter.reply(keyword) == f"{CATEGORY[language]}\n{HINT[language]}"
    assert texter.reply("2").startswith(COUNTY[language] + "\n1. Kisumu\n2. Nairobi City")
    reply = texter.reply(place)
    assert reply == LANDMARK[language]
    assert texter.reply("0") == DESCRIBE[language]
    description = "A deep pothole " + "near the market " * 28  # 463 characters: fine over SMS
    shown = texter.reply(description.strip())
    assert shown.split("\n")[0].startswith(
        confirm.format(w=tree.get(ward).name, d="A deep pothole near the market")[:30])
    last = texter.reply("1")
    (entry,) = finished(redis_sync)
    assert last == end.format(r=reference_for(entry["run_id"]))
    assert (entry["flow"], entry["channel"], entry["status"]) == ("report", "sms", "completed")
    assert entry["answers"] == {"category": "roads", "ward": ward,
                                "description": description.strip(), "confirm": "submit"}
    secret = client.app.state.runtime.settings.secret_key
    assert decrypt_number(entry["number_encrypted"], secret) == texter.phone


def test_an_ambiguous_place_gets_a_numbered_choice(client):
    texter = Texter(client)
    texter.reply("REPORT")
    texter.reply("1")
    assert texter.reply("Umoja") == (
        "Did you mean:\n1. Umoja I, Embakasi West, Nairobi City\n"
        "2. Umoja II, Embakasi West, Nairobi City\nReply with a number.")
    assert texter.reply("2") == LANDMARK["en"]


def test_a_typed_sub_county_opens_its_wards(client):
    texter = Texter(client)
    texter.reply("REPORT")
    texter.reply("1")
    assert texter.reply("Kibera").startswith("Which ward? 0 Back\n1. Laini Saba")  # an alias


def test_an_unknown_place_asks_again(client):
    texter = Texter(client)
    texter.reply("REPORT")
    texter.reply("1")
    reply = texter.reply("Atlantis")
    assert reply.startswith("Please choose a number from the list.\n")
    assert "Which county?\n1. Kisumu" in reply


def test_menus_work_over_sms_too_and_0_goes_back_up(client):
    texter = Texter(client)
    texter.reply("REPORT")
    texter.reply("1")
    assert texter.reply("1").startswith("Which sub-county? 0 Back\n1. Kisumu East")
    assert texter.reply("0").startswith("Which county?")
    texter.reply("1")
    assert texter.reply("3").startswith("Which ward? 0 Back\n1. Railways")


def test_a_description_over_500_characters_is_refused_over_sms(client):
    texter = Texter(client)
    for typed in ("REPORT", "1", "kondele", "0"):
        texter.reply(typed)
    assert texter.reply("x" * 501).startswith("Please use at most 500 characters.")


def test_a_survey_run_carries_no_number(client, redis_sync):
    texter = Texter(client)
    for typed in ("SURVEY", "1", "1", "1"):
        texter.reply(typed)
    assert all("number_encrypted" not in entry for entry in finished(redis_sync))

"""The operators' search over /api/calls and /api/stats, on both record backends (a SQLite file and a
real PostgreSQL from Debian's binaries): filters by condominium, outcome, date range, apartment, a
name (accents and case ignored), the resident's decision, and paging with the total that matches;
the visitor's name audio leaves with its call when the records are purged."""

from __future__ import annotations

import sqlite3
import time
import uuid
from contextlib import closing

import pytest
from starlette.testclient import TestClient

from concierge.brain.reply import Dados, Intent, Reply
from concierge.call.events import CallEnded, CallStarted, Outcome, Turn
from concierge.call.records import CallRecords
from concierge.call.visit import VisitDecided
from concierge.config import CallState
from concierge.store.search import apartment_key, fold
from concierge.web.app import create_app
from concierge.web.live import LiveCalls
from concierge.web.metrics import CallMetrics
from tests.servers import postgres_cluster, postgres_url  # noqa: F401 (fixtures)

from ..call.recorded import name_heard

DAY = 86400.0
NOW = time.time()


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "calls.db")
    return request.getfixturevalue("postgres_url")


def slots_reply(visitor: str | None, apartment: str | None, resident: str | None) -> Reply:
    dados = Dados(intent_type=Intent.VISITA, visitor_name=visitor, apartment_number=apartment, resident_name=resident)
    return Reply(mensagem="Um momento.", dados=dados, valid_for_action=apartment is not None, set_call_status=CallState.USER_TURN)


def call(records: CallRecords, *, started: float, condominium: str = "default", outcome: Outcome | None = Outcome.COMPLETED,
         visitor: str | None = None, apartment: str | None = None, resident: str | None = None, decision: str | None = None) -> str:  # fmt: skip
    call_id = str(uuid.uuid4())
    records.observer(CallStarted(call_id, call_id, at=started, condominium=condominium))
    if visitor or apartment or resident:
        records.observer(Turn(call_id, 1, "speech", "fala", slots_reply(visitor, apartment, resident), 300, 1, 50, 700.0))
    if decision:
        records.observer(VisitDecided(call_id, decision, "test", at=started + 10))
    if outcome is not None:
        records.observer(CallEnded(call_id, outcome, "test", at=started + 20))
    return call_id


@pytest.fixture
def seeded(location):
    """Nine calls over three days in two condominiums, and a client for the app reading them."""
    records = CallRecords(location, "rules")
    ids = {
        "otavio": call(records, started=NOW - 2 * DAY, condominium="jardins", visitor="Carlos Pereira", apartment="604",
                       resident="Otávio Reis", decision="authorized"),
        "joana": call(records, started=NOW - 2 * DAY + 60, condominium="jardins", visitor="Ana Lúcia", apartment="104",
                      resident="Joana Prado", decision="denied"),
        "failed": call(records, started=NOW - DAY, condominium="aurora", outcome=Outcome.ERROR, visitor="JOÃO DA SILVA"),
        "aurora_104": call(records, started=NOW - DAY + 60, condominium="aurora", apartment="104", resident="Marta Souza"),
        "open": call(records, started=NOW - 30, condominium="jardins", outcome=None, apartment="104", resident="Joana Prado"),
    }
    ids["recent"] = [call(records, started=NOW - 3600 + minute, condominium="jardins") for minute in range(4)]  # newest last
    records.flush()
    client = TestClient(create_app(records, LiveCalls("Olá"), CallMetrics()), base_url="http://127.0.0.1:8080")
    yield client, ids, records
    client.close()
    records.close()


def listed(client: TestClient, **query) -> list[str]:
    response = client.get("/api/calls", params={"limit": 50, **query})
    assert response.status_code == 200, response.text
    return [c["call_id"] for c in response.json()["calls"]]


def test_each_filter_narrows_the_calls_on_both_backends(seeded):
    client, ids, _ = seeded
    recent = ids["recent"][::-1]
    assert listed(client, condominium="aurora") == [ids["aurora_104"], ids["failed"]]
    assert listed(client, apartment="104") == [ids["open"], ids["aurora_104"], ids["joana"]]
    assert listed(client, apartment="ap. 104") == listed(client, apartment="104"), "an operator may type 'ap. 104'"
    assert listed(client, apartment="104", condominium="jardins") == [ids["open"], ids["joana"]]
    assert listed(client, name="otavio") == [ids["otavio"]], "no accent needed: Otávio"
    assert listed(client, name="REIS") == [ids["otavio"]], "case ignored"
    assert listed(client, name="joão") == [ids["failed"]] == listed(client, name="joao da")
    assert listed(client, name="carlos") == [ids["otavio"]], "the visitor's name is searched as well as the resident's"
    assert listed(client, name="joana") == [ids["open"], ids["joana"]]
    assert listed(client, name="%") == [] and listed(client, name="_") == [], "LIKE wildcards are searched as themselves"
    assert listed(client, decision="denied") == [ids["joana"]]
    assert listed(client, outcome="error") == [ids["failed"]]
    assert listed(client, outcome="live") == [ids["open"]]
    day_before = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(NOW - 1.5 * DAY))
    yesterday_end = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(NOW - DAY / 2))
    assert listed(client, since=day_before, until=yesterday_end) == [ids["aurora_104"], ids["failed"]]
    assert listed(client, until=NOW - 1.5 * DAY) == [ids["joana"], ids["otavio"]], "until is exclusive of later calls"
    assert listed(client, since=NOW - 2 * DAY + 30, until=NOW - 2 * DAY + 61) == [ids["joana"]]
    assert listed(client, condominium="jardins", since=NOW - 7200) == [ids["open"], *recent]


def test_pages_cover_every_match_once_with_the_total(seeded):
    client, ids, _ = seeded
    everything = listed(client)
    assert len(everything) == 9 and len(set(everything)) == 9
    pages, offset = [], 0
    while True:
        body = client.get("/api/calls", params={"limit": 4, "offset": offset}).json()
        assert body["total"] == 9 and (body["offset"], body["limit"]) == (offset, 4)
        if not body["calls"]:
            break
        pages.append([c["call_id"] for c in body["calls"]])
        offset += 4
    assert [len(page) for page in pages] == [4, 4, 1]
    assert sum(pages, []) == everything, "newest first, no call twice, none left out"
    jardins = client.get("/api/calls", params={"condominium": "jardins", "limit": 2, "offset": 2}).json()
    assert jardins["total"] == 7 and [c["call_id"] for c in jardins["calls"]] == listed(client, condominium="jardins")[2:4]
    live = client.get("/api/calls", params={"outcome": "live", "limit": 1, "offset": 1}).json()
    assert (live["total"], live["calls"]) == (1, []), "live calls page like the rest"


def test_stats_honour_the_condominium_filter(seeded):
    client, _, _ = seeded
    aurora = client.get("/api/stats", params={"condominium": "aurora"}).json()
    assert aurora["condominium"] == "aurora" and aurora["calls"]["error"] == 1 and aurora["calls"]["completed"] == 1
    assert aurora["calls"]["live"] == 0
    jardins = client.get("/api/stats", params={"condominium": "jardins"}).json()["calls"]
    assert (jardins["completed"], jardins["error"], jardins["live"]) == (6, 0, 1)
    everyone = client.get("/api/stats").json()["calls"]
    assert (everyone["completed"], everyone["error"], everyone["live"]) == (7, 1, 1)
    assert client.get("/api/stats", params={"condominium": "Aurora!"}).status_code == 400


def test_the_condominiums_to_filter_by_are_those_with_calls(seeded):
    client, _, _ = seeded
    assert client.get("/api/condominiums").json() == {"condominiums": ["aurora", "jardins"]}


@pytest.mark.parametrize("query", [
    "offset=-1", "offset=many", "offset=99999999", "decision=maybe", "until=tomorrow", "since=nan", "until=inf",
    f"name={'x' * 81}", f"apartment={'1' * 81}",
])  # fmt: skip
def test_bad_search_parameters_are_400_with_a_message(seeded, query):
    client, _, _ = seeded
    response = client.get(f"/api/calls?{query}")
    assert response.status_code == 400 and response.json()["error"]


def test_purged_calls_take_their_name_audio_with_them(location):
    records = CallRecords(location, "rules")
    try:
        old, new = call(records, started=NOW - 40 * DAY, visitor="Carlos"), call(records, started=NOW - 60, visitor="Carlos")
        for call_id in (old, new):
            records.observer(name_heard(call_id, 1, "Carlos"))
        records.flush()
        client = TestClient(create_app(records, LiveCalls("Olá"), CallMetrics()), base_url="http://127.0.0.1:8080")
        assert client.get(f"/api/calls/{old}/name.wav").status_code == 200
        assert records.purge(30) == 1
        assert client.get(f"/api/calls/{old}/name.wav").status_code == 404
        assert client.get(f"/api/calls/{old}").status_code == 404
        assert client.get(f"/api/calls/{new}/name.wav").status_code == 200, "a call within the retention keeps its audio"
        client.close()
    finally:
        records.close()


def test_calls_recorded_before_the_search_columns_are_found_after_the_upgrade(tmp_path):
    """A schema-5 file (no apartment / search_names yet) is upgraded and its calls filled in from their last reply."""
    path = tmp_path / "calls.db"
    with CallRecords(path, "rules") as records:
        before = call(records, started=NOW - 60, visitor="Zé Ninguém", apartment="1201", resident="Íris Antunes")
        records.flush()
    with closing(sqlite3.connect(path)) as db:
        db.executescript(
            "DROP INDEX calls_by_apartment; ALTER TABLE calls DROP COLUMN apartment; ALTER TABLE calls DROP COLUMN search_names;"
            " PRAGMA user_version = 5;"
        )
    with CallRecords(path, "rules") as records:
        client = TestClient(create_app(records, LiveCalls("Olá"), CallMetrics()), base_url="http://127.0.0.1:8080")
        assert listed(client, name="iris") == [before] and listed(client, apartment="1201") == [before]
        assert listed(client, name="ze ninguem") == [before]
        client.close()


def test_folding_and_apartment_keys():
    assert fold("  Otávio   REIS ") == "otavio reis" and fold("Conceição") == "conceicao"
    assert apartment_key("Apto. 104-b") == "104B" and apartment_key("ap 604") == "604" and apartment_key(None) == ""


def test_live_calls_and_their_counts_filter_by_condominium(tmp_path):
    from concierge.call.resident import VisitFacts
    from concierge.call.visit import VisitStarted

    live = LiveCalls("Olá", node="node-a")
    for call_id, condominium in (("j1", "jardins"), ("j2", "jardins"), ("a1", "aurora")):
        live.observer(CallStarted(call_id, call_id, condominium=condominium))
    live.observer(VisitStarted("j2", "leg", VisitFacts(Intent.VISITA, "Carlos", "Joana Prado", "104"), ("PJSIP/ap104",)))
    with CallRecords(tmp_path / "calls.db", "rules") as records:
        client = TestClient(create_app(records, live, CallMetrics()), base_url="http://127.0.0.1:8080")
        assert [c["call_id"] for c in client.get("/api/live", params={"condominium": "jardins"}).json()["calls"]] == ["j1", "j2"]
        assert len(client.get("/api/live").json()["calls"]) == 3
        assert client.get("/api/live", params={"condominium": "../x"}).status_code == 400
        jardins = client.get("/api/stats", params={"condominium": "jardins"}).json()
        aurora = client.get("/api/stats", params={"condominium": "aurora"}).json()
        everyone = client.get("/api/stats").json()
        assert (jardins["active_here"], jardins["waiting_on_resident"]) == (2, 1)
        assert (aurora["active_here"], aurora["waiting_on_resident"]) == (1, 0)
        assert (everyone["active_here"], everyone["waiting_on_resident"]) == (3, 1)
        client.close()


def test_a_live_call_carries_the_slots_and_validity_of_its_last_reply():
    live = LiveCalls("Olá")
    live.observer(CallStarted("c1", "c1"))
    (call,) = live.snapshot()
    assert (call["slots"], call["valid_for_action"]) == (None, False)
    live.observer(Turn("c1", 1, "speech", "fala", slots_reply("Carlos", "604", "Otávio Reis"), 300, 1, 50, 700.0))
    (call,) = live.snapshot()
    assert call["slots"] == {"intent_type": "visita", "visitor_name": "Carlos", "apartment_number": "604", "resident_name": "Otávio Reis"}
    assert call["valid_for_action"] is True

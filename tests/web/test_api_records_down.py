"""The API while the records' PostgreSQL is away: history requests get 503 and the reason in one
line, never a 500; live calls go on being served (a real throwaway PostgreSQL, paused)."""

from __future__ import annotations

import uuid

from starlette.testclient import TestClient

from concierge.call.events import CallStarted
from concierge.call.records import CallRecords
from concierge.web.app import create_app
from concierge.web.live import LiveCalls
from concierge.web.metrics import CallMetrics
from tests.servers import own_postgres  # noqa: F401 (fixture)


def test_history_is_503_with_its_reason_while_postgres_is_away_and_live_calls_stay(own_postgres, tmp_path):  # noqa: F811
    url = own_postgres.create_database()
    with CallRecords(url, "rules", spool=tmp_path / "spool.db") as records:
        live = LiveCalls("Pois não?")
        client = TestClient(create_app(records, live, CallMetrics()), base_url="http://127.0.0.1:8080")
        call_id = str(uuid.uuid4())
        live.observer(CallStarted(call_id, call_id))
        assert client.get("/api/calls").status_code == 200
        own_postgres.pause()
        try:
            for path in ("/api/calls", f"/api/calls/{call_id}", "/api/stats", "/api/failed?since=0"):
                response = client.get(path)
                assert response.status_code == 503, (path, response.text)
                assert "PostgreSQL" in response.json()["error"] and "\n" not in response.json()["error"]
            live_calls = client.get("/api/live")
            assert live_calls.status_code == 200 and call_id in live_calls.text
        finally:
            own_postgres.resume()
        assert client.get("/api/calls").status_code == 200

import dataclasses
import socket

from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_health(settings: Settings) -> tuple[int, dict[str, str]]:
    with TestClient(create_app(settings)) as client:
        response = client.get("/healthz")
        return response.status_code, response.json()


def test_healthz_says_ok_when_redis_and_the_database_answer(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"redis": "ok", "database": "ok"}


def test_healthz_names_redis_when_it_is_down(settings: Settings) -> None:
    down = dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{closed_port()}/0")

    status, body = get_health(down)

    assert status == 503
    assert body["database"] == "ok"
    assert body["redis"].startswith("down: ") and "ConnectionError" in body["redis"]


def test_healthz_names_the_database_when_it_is_down(settings: Settings) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/nowhere"
    down = dataclasses.replace(settings, database_url=url)

    status, body = get_health(down)

    assert status == 503
    assert body["redis"] == "ok"
    assert body["database"].startswith("down: ")


def test_metrics_are_in_prometheus_text_format(client: TestClient) -> None:
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE gateway_ussd_hops_total counter" in response.text
    assert "# TYPE gateway_ussd_hop_seconds histogram" in response.text


def test_an_oversized_body_gets_a_one_line_413(client: TestClient, settings: Settings) -> None:
    response = client.post("/healthz", content=b"x" * (settings.app.max_body_bytes + 1))

    assert response.status_code == 413
    assert response.text == "Content Too Large"

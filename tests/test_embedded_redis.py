from pathlib import Path

import pytest
import redis

from gateway.embedded_redis import EmbeddedRedisError, start_embedded_redis


def test_data_survives_a_restart_through_the_append_only_file(tmp_path: Path) -> None:
    server = start_embedded_redis(tmp_path)
    try:
        assert server.url == f"unix://{tmp_path}/redis.sock"
        with redis.Redis.from_url(server.url) as client:
            client.set("gw:lang:abc", "sw")
    finally:
        server.stop()
    assert not (tmp_path / "redis.sock").exists()

    again = start_embedded_redis(tmp_path)
    try:
        with redis.Redis.from_url(again.url) as client:
            assert client.get("gw:lang:abc") == b"sw"
    finally:
        again.stop()


def test_a_second_server_on_the_same_data_is_refused(tmp_path: Path) -> None:
    server = start_embedded_redis(tmp_path)
    try:
        with pytest.raises(EmbeddedRedisError, match="already answers on .*redis.sock"):
            start_embedded_redis(tmp_path)
    finally:
        server.stop()

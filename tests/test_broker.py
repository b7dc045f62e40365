"""The embedded broker (config.broker): a worker never sees a message half written.

kombu's own filesystem transport creates the message file empty and then writes
it; a worker reading in between got an empty file and stopped with
"Unrecoverable error: JSONDecodeError", which ended `make run`."""

import os
from queue import Empty

import pytest
from kombu import Connection

from config import broker
from config.celery_app import app


@pytest.fixture
def channel(tmp_path):
    options = {
        "data_folder_in": str(tmp_path),
        "data_folder_out": str(tmp_path),
        "processed_folder": str(tmp_path / "processed"),
    }
    with Connection("files://", transport_options=options) as c:
        yield c.default_channel


def test_it_never_shows_a_worker_a_half_written_message(channel, tmp_path, monkeypatch):
    seen = {}
    rename = os.replace

    def replace_and_look(src, dst):
        # The moment before the message is put in place: what would a worker find?
        seen["files"] = sorted(os.listdir(tmp_path))
        with open(src, "rb") as f:
            seen["partial"] = f.read()
        with pytest.raises(Empty):
            channel._get("tasks")
        rename(src, dst)

    monkeypatch.setattr(broker.os, "replace", replace_and_look)
    channel._put("tasks", {"body": "会话 sweep"})

    (partial,) = seen["files"]
    assert partial.startswith(broker.PARTIAL_PREFIX)
    assert b"sweep" in seen["partial"]  # written whole before it is renamed
    assert channel._get("tasks") == {"body": "会话 sweep"}
    assert sorted(os.listdir(tmp_path)) == []


def test_it_leaves_nothing_behind_when_the_write_fails(channel, tmp_path, monkeypatch):
    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(broker.os, "replace", full_disk)
    with pytest.raises(Exception, match="Cannot add a message"):
        channel._put("tasks", {"body": "x"})

    assert os.listdir(tmp_path) == []


def test_it_is_the_embedded_default_brokers_transport(settings):
    with app.connection_for_write() as connection:
        if settings.REDIS_URL:  # the PostgreSQL + Redis pass: Redis, untouched
            assert connection.transport.driver_type == "redis"
        else:
            assert isinstance(connection.transport, broker.Transport)

"""common.memory_cache: the process-memory cache of rendered rows."""

import pytest

from common.memory_cache import MemoryCache


@pytest.fixture
def cache(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(MemoryCache, "clock", staticmethod(lambda: now[0]))
    made = MemoryCache("test", {"TIMEOUT": 60, "OPTIONS": {"MAX_ENTRIES": 3}})
    made.now = now
    return made


def test_it_hands_back_the_stored_object_itself(cache):
    row = ("<tr>", "text")
    cache.set("a", row)
    assert cache.get("a") is row
    assert cache.get("missing", "default") == "default"
    assert cache.get_many(["a", "missing"]) == {"a": row}


def test_it_forgets_an_entry_when_its_time_is_up(cache):
    cache.set("short", "x", timeout=10)
    cache.set_many({"long": "y"}, timeout=None)
    cache.now[0] += 9.5
    assert cache.get("short") == "x"
    cache.now[0] += 1
    assert cache.get("short") is None
    assert cache.has_key("long")
    assert cache.get_many(["short", "long"]) == {"long": "y"}


def test_it_drops_the_least_recently_used_past_its_size(cache):
    cache.set_many({"a": 1, "b": 2, "c": 3})
    assert cache.get("a") == 1  # a is now the most recently used
    cache.set("d", 4)
    assert cache.get_many(["a", "b", "c", "d"]) == {"a": 1, "c": 3, "d": 4}


def test_add_touch_delete_and_clear(cache):
    assert cache.add("k", 1) is True
    assert cache.add("k", 2) is False
    assert cache.get("k") == 1
    assert cache.touch("k", timeout=5) is True
    cache.now[0] += 6
    assert cache.touch("k") is False
    cache.set("k", 3)
    assert cache.delete("k") is True
    assert cache.delete("k") is False
    cache.set("k", 4)
    cache.clear()
    assert cache.get("k") is None


def test_versions_and_prefixes_keep_keys_apart(cache):
    cache.set("k", "one", version=1)
    cache.set("k", "two", version=2)
    assert cache.get("k", version=1) == "one"
    assert cache.get("k", version=2) == "two"

"""A cache in this process's memory that keeps values as they are.

Django's LocMemCache pickles every value it stores and unpickles every value it
returns, and checks every key for memcached's rules: for the 100 rendered rows
of a dashboard (incidents/fragments.py) that was a tenth of the rows' time.
This cache is only for values nobody changes once stored (strings, and tuples
of strings and datetimes): it hands back the stored object itself. The least
recently used entries go when there are more than MAX_ENTRIES.
"""

import threading
import time
from collections import OrderedDict

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache

_MISSING = object()


class MemoryCache(BaseCache):
    # The clock of the expiry times; tests move it.
    clock = staticmethod(time.monotonic)

    def __init__(self, name, params):
        super().__init__(params)
        self._data: OrderedDict = OrderedDict()  # key → (expires at or None, value)
        self._lock = threading.Lock()

    def _expiry(self, timeout):
        """When an entry stored now with `timeout` (seconds; None: never) expires."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        return None if timeout is None else self.clock() + timeout

    def _read(self, key, now):
        """The value under `key` (made), or _MISSING; forgets an expired one. Locked."""
        entry = self._data.get(key)
        if entry is None:
            return _MISSING
        expires, value = entry
        if expires is not None and expires <= now:
            del self._data[key]
            return _MISSING
        self._data.move_to_end(key)
        return value

    def _write(self, key, value, expires) -> None:
        """Locked."""
        self._data[key] = (expires, value)
        self._data.move_to_end(key)
        while len(self._data) > self._max_entries:
            self._data.popitem(last=False)

    def get(self, key, default=None, version=None):
        key = self.make_key(key, version)
        with self._lock:
            value = self._read(key, self.clock())
        return default if value is _MISSING else value

    def get_many(self, keys, version=None):
        made = {self.make_key(key, version): key for key in keys}
        now = self.clock()
        found = {}
        with self._lock:
            for key, given in made.items():
                value = self._read(key, now)
                if value is not _MISSING:
                    found[given] = value
        return found

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_key(key, version)
        expires = self._expiry(timeout)
        with self._lock:
            self._write(key, value, expires)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        expires = self._expiry(timeout)
        with self._lock:
            for key, value in data.items():
                self._write(self.make_key(key, version), value, expires)
        return []

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_key(key, version)
        expires = self._expiry(timeout)
        with self._lock:
            if self._read(key, self.clock()) is not _MISSING:
                return False
            self._write(key, value, expires)
            return True

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_key(key, version)
        with self._lock:
            value = self._read(key, self.clock())
            if value is _MISSING:
                return False
            self._data[key] = (self._expiry(timeout), value)
            return True

    def has_key(self, key, version=None):
        key = self.make_key(key, version)
        with self._lock:
            return self._read(key, self.clock()) is not _MISSING

    def delete(self, key, version=None):
        key = self.make_key(key, version)
        with self._lock:
            return self._data.pop(key, None) is not None

    def clear(self):
        with self._lock:
            self._data.clear()

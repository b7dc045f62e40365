"""Reading the dump as a stream, so a large file is never held in memory."""

import json
from collections.abc import Iterator
from typing import Any

from incidents.backup import registry
from incidents.backup.format import BadDump


class Reader:
    """The dump's top-level object, one value at a time.

    json.load would hold every incident at once; this parses the object's keys
    and each element of its arrays with the standard decoder as the text
    arrives, so memory holds one incident (and its rows) at a time.
    """

    WHITESPACE = " \t\n\r"

    def __init__(self, stream, read_size: int = 1 << 16):
        self.stream = stream
        self.read_size = read_size
        self.buffer = ""
        self.pos = 0
        self.eof = False
        self.decoder = json.JSONDecoder()
        self.sections = frozenset(registry.section_keys())

    def _more(self) -> bool:
        if self.eof:
            return False
        # At least double what is held, so a long value is not re-parsed too often.
        chunk = self.stream.read(max(self.read_size, len(self.buffer) - self.pos))
        if not chunk:
            self.eof = True
            return False
        self.buffer = self.buffer[self.pos :] + chunk
        self.pos = 0
        return True

    def peek(self) -> str:
        while True:
            while self.pos < len(self.buffer) and self.buffer[self.pos] in self.WHITESPACE:
                self.pos += 1
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self._more():
                return ""

    def take(self, char: str, where: str) -> None:
        found = self.peek()
        if found != char:
            shown = repr(found) if found else "the end of the file"
            raise BadDump(f"{where}: expected {char!r}, found {shown} (truncated or not a dump?)")
        self.pos += 1

    def value(self, where: str):
        self.peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as exc:
                # Cut off by the end of what was read (or a string that goes on):
                # read more. An error well inside the buffer is a broken file.
                cut = exc.pos >= len(self.buffer) - 6 or exc.msg.startswith("Unterminated")
                if cut and self._more():
                    continue
                raise BadDump(f"{where}: not valid JSON ({exc.msg})") from None
            # A number at the very end of the buffer may go on in the next read.
            if end < len(self.buffer) or self.eof or not self._more():
                self.pos = end
                return value

    def items(self, where: str) -> Iterator:
        self.take("[", where)
        if self.peek() == "]":
            self.pos += 1
            return
        index = 0
        while True:
            yield self.value(f"{where}[{index}]")
            index += 1
            if self.peek() == ",":
                self.pos += 1
            else:
                self.take("]", f"{where}[{index}]")
                return

    def entries(self) -> Iterator[tuple[str, Any]]:
        """(key, value) of the top-level object; array values come as iterators,
        to be used up before the next entry is asked for."""
        self.take("{", "start of file")
        if self.peek() == "}":
            self.pos += 1
        else:
            while True:
                key = self.value("a key of the top-level object")
                if not isinstance(key, str):
                    raise BadDump("the top-level keys must be strings")
                self.take(":", f"after {key!r}")
                if key in self.sections:
                    items = self.items(key)
                    yield key, items
                    for _ in items:  # the caller stopped early: skip the rest
                        pass
                else:
                    yield key, self.value(key)
                if self.peek() == ",":
                    self.pos += 1
                else:
                    self.take("}", f"after {key!r}")
                    break
        if self.peek():
            raise BadDump("unexpected data after the end of the dump")

"""The embedded broker: kombu's filesystem transport, with messages that appear whole.

kombu writes a message by creating its file and then writing into it, while the
worker lists the folder, moves each file away and reads it without a lock: a
worker that comes by between the two reads an empty file, fails to decode it and
stops ("Unrecoverable error: JSONDecodeError"), taking `make run` down with it
(celery/kombu#1551). Here a message is written under a name no queue reads and
renamed into place when complete, which on one filesystem is atomic.
"""

import os
import tempfile
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps

PARTIAL_PREFIX = ".partial-"  # ignored by the readers: its name names no queue


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put `payload` onto `queue`: written aside, then renamed into the queue."""
        folder = self.data_folder_out
        # kombu's own name: the readers take messages in the order of the names.
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        partial = None
        try:
            handle, partial = tempfile.mkstemp(dir=folder, prefix=PARTIAL_PREFIX)
            with os.fdopen(handle, "wb") as f:
                f.write(dumps(payload).encode())
            os.replace(partial, os.path.join(folder, name))
        except OSError as exc:
            if partial is not None and os.path.exists(partial):
                os.unlink(partial)
            raise ChannelError(f"Cannot add a message to {folder!r}") from exc


class Transport(filesystem.Transport):
    Channel = Channel

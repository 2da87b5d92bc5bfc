"""Hand a child process's result to its parent through a file, without a copy under the GIL.

A compiled timetable is a few hundred megabytes of numpy arrays (236 MiB at 2.5 million
stop times). Sent back through a pipe, the parent unpickles it in one call that holds the
GIL while it copies every array: a stall of every request of 0.2 s or more at that size.
Here the child pickles with protocol 5, writing each array's buffer out of band into a
file, and the parent maps that file copy-on-write and unpickles only the small header:
every array is a view of the mapping (writable, private to the parent), paged in as it
is read. The file is unlinked as soon as it is mapped.
"""

from __future__ import annotations

import mmap
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Each buffer starts at a multiple of this in the file (numpy wants aligned data).
ALIGN = 64


@dataclass(frozen=True, slots=True)
class Shipped:
    """A pickled result: its header, and where each out-of-band buffer is in `path`."""

    path: str
    header: bytes
    spans: tuple[tuple[int, int], ...]


def ship(value: Any, directory: str, name: str) -> Shipped:
    """Pickle `value` into `directory`/`name` (in the child); return what finds it again."""
    buffers: list[pickle.PickleBuffer] = []
    header = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    path = Path(directory) / name
    spans = []
    with path.open("wb") as out:
        for buffer in buffers:
            with buffer.raw() as raw:
                out.write(b"\0" * (-out.tell() % ALIGN))
                spans.append((out.tell(), raw.nbytes))
                out.write(raw)
    return Shipped(str(path), header, tuple(spans))


def unship(shipped: Shipped) -> Any:
    """Map the file copy-on-write, unlink it, and unpickle the value over the mapping."""
    with open(shipped.path, "rb") as file:  # noqa: PTH123 (a file descriptor to map)
        size = os.fstat(file.fileno()).st_size
        mapped = mmap.mmap(file.fileno(), size, access=mmap.ACCESS_COPY) if size else None
    os.unlink(shipped.path)  # noqa: PTH108 (the mapping keeps the pages)
    view = memoryview(mapped) if mapped is not None else memoryview(b"")
    buffers = [view[start : start + length] for start, length in shipped.spans]
    return pickle.loads(shipped.header, buffers=buffers)  # noqa: S301 (our own child's)

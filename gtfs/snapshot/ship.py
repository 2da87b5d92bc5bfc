"""Hand a child process's result to its parent through a file, without a copy under the GIL.

A compiled timetable is a few hundred megabytes of numpy arrays (236 MiB at 2.5 million
stop times). Sent back through a pipe, the parent unpickles it in one call that holds the
GIL while it copies every array: a stall of every request of 0.2 s or more at that size.
Here the child pickles with protocol 5, writing each array's buffer out of band into a
file, and the parent maps that file copy-on-write and unpickles only the small header:
every array is a view of the mapping (writable, private to the parent), paged in as it
is read. The file is unlinked as soon as it is mapped.

What cannot be a buffer (the trip ids: tuples and dicts of 100,000 strings on a big
feed) would still be one long unpickling call: each big tuple, list or dict is written
as pickles of `CHUNK` items, which the parent loads one by one (`unship` runs in a
thread, and between two chunks the GIL goes back to the event loop).
"""

from __future__ import annotations

import io
import mmap
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Each buffer starts at a multiple of this in the file (numpy wants aligned data).
ALIGN = 64
#: Items per chunk of a big tuple, list or dict (a few milliseconds to unpickle).
CHUNK = 10_000
_CONTAINERS: dict[type, str] = {tuple: "tuple", list: "list", dict: "dict"}


@dataclass(frozen=True, slots=True)
class Shipped:
    """A pickled result: its header, and where each buffer and each chunk is in `path`."""

    path: str
    header: bytes
    spans: tuple[tuple[int, int], ...]
    chunks: tuple[tuple[int, int], ...] = ()


class _Pickler(pickle.Pickler):
    """Writes every big tuple, list or dict as separate chunks (one per `CHUNK` items)."""

    def __init__(self, file: io.BytesIO, buffers: list[pickle.PickleBuffer]) -> None:
        super().__init__(file, protocol=5, buffer_callback=buffers.append)
        self.chunks: list[bytes] = []
        self._ids: dict[int, tuple[str, tuple[int, ...]]] = {}

    def persistent_id(self, obj: Any) -> tuple[str, tuple[int, ...]] | None:
        """Name a big container by its chunks (the same one twice: the same chunks)."""
        kind = _CONTAINERS.get(type(obj))
        if kind is None or len(obj) <= CHUNK:
            return None
        known = self._ids.get(id(obj))
        if known is None:
            items = list(obj.items()) if kind == "dict" else list(obj)
            first = len(self.chunks)
            for start in range(0, len(items), CHUNK):
                self.chunks.append(pickle.dumps(items[start : start + CHUNK], protocol=5))
            known = (kind, tuple(range(first, len(self.chunks))))
            self._ids[id(obj)] = known
        return known


class _Unpickler(pickle.Unpickler):
    """Rebuilds the big containers chunk by chunk, each its own short call."""

    def __init__(self, header: bytes, buffers: list[memoryview], chunks: list[memoryview]) -> None:
        super().__init__(io.BytesIO(header), buffers=buffers)
        self.chunks = chunks
        self._built: dict[tuple[int, ...], Any] = {}

    def persistent_load(self, pid: Any) -> Any:
        """Return the container a chunk list names (built once, however often named)."""
        kind, numbers = pid
        built = self._built.get(numbers)
        if built is None:
            parts = [pickle.loads(self.chunks[n]) for n in numbers]  # noqa: S301 (our own)
            if kind == "dict":
                built = {}
                for part in parts:
                    built.update(part)
            else:
                items = [item for part in parts for item in part]
                built = tuple(items) if kind == "tuple" else items
            self._built[numbers] = built
        return built


def ship(value: Any, directory: str, name: str) -> Shipped:
    """Pickle `value` into `directory`/`name` (in the child); return what finds it again."""
    buffers: list[pickle.PickleBuffer] = []
    header = io.BytesIO()
    pickler = _Pickler(header, buffers)
    pickler.dump(value)
    path = Path(directory) / name
    spans, chunks = [], []
    with path.open("wb") as out:
        for buffer in buffers:
            with buffer.raw() as raw:
                out.write(b"\0" * (-out.tell() % ALIGN))
                spans.append((out.tell(), raw.nbytes))
                out.write(raw)
        for chunk in pickler.chunks:
            chunks.append((out.tell(), len(chunk)))
            out.write(chunk)
    return Shipped(str(path), header.getvalue(), tuple(spans), tuple(chunks))


def unship(shipped: Shipped) -> Any:
    """Map the file copy-on-write, unlink it, and unpickle the value over the mapping.

    Blocking, in short calls: run it in a thread.
    """
    with open(shipped.path, "rb") as file:  # noqa: PTH123 (a file descriptor to map)
        size = os.fstat(file.fileno()).st_size
        mapped = mmap.mmap(file.fileno(), size, access=mmap.ACCESS_COPY) if size else None
    os.unlink(shipped.path)  # noqa: PTH108 (the mapping keeps the pages)
    view = memoryview(mapped) if mapped is not None else memoryview(b"")
    buffers = [view[start : start + length] for start, length in shipped.spans]
    chunks = [view[start : start + length] for start, length in shipped.chunks]
    return _Unpickler(shipped.header, buffers, chunks).load()

"""File helpers for drivers: resolving configured paths, compression by name, transcoding, atomic output."""

from __future__ import annotations

import codecs
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from osiris.dialects import csv
from osiris.runtime.driver import StepContext, StepError


def resolve_path(ctx: StepContext, value: str) -> Path:
    """A config path: absolute as is; relative to the connection's ``base_dir`` (itself relative to the base
    directory) when the step has a filesystem connection; else relative to the base directory."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    root = ctx.base_dir
    if ctx.connection and ctx.connection.get("base_dir"):
        root = ctx.base_dir / Path(str(ctx.connection["base_dir"])).expanduser()
    return root / path


def compression_of(path: Path, setting: str | None) -> str | None:
    """The codec for a file: explicit, or inferred from the extension (``infer``); None for plain files."""
    return csv.compression_of(path.name, setting)


class Transcoder:
    """A binary sink that receives UTF-8 bytes and writes them in another encoding (for pyarrow's CSV writer)."""

    def __init__(self, sink: Any, encoding: str):
        self.sink = sink
        self.encoding = encoding
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.encoder = codecs.getincrementalencoder(encoding)()
        self.closed = False

    def write(self, data: bytes) -> int:
        text = self.decoder.decode(bytes(data))
        try:
            self.sink.write(self.encoder.encode(text))
        except UnicodeEncodeError as exc:
            raise StepError(f"a value cannot be encoded as {self.encoding}: {exc.reason}") from None
        return len(data)

    def flush(self) -> None:
        self.sink.flush()

    def close(self) -> None:
        if not self.closed:
            self.sink.write(self.encoder.encode(self.decoder.decode(b"", final=True), final=True))
            self.closed = True

    @property
    def writable(self) -> bool:
        return True


@contextmanager
def atomic_output(path: Path, create_dirs: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``, on failure it is removed."""
    if not path.parent.exists():
        if not create_dirs:
            raise StepError(f"folder '{path.parent}' does not exist (create_dirs is false)")
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        Path(tmp).replace(path)
    finally:
        Path(tmp).unlink(missing_ok=True)

"""Byte-reproducible ``.tar.gz`` archives, and a safe unpacker.

``write_tar_gz`` is a function of its ``{path: bytes}`` input alone: entries sorted by path, USTAR headers with
mtime 0, uid/gid 0, empty owner names, mode 0644 (0755 for the paths named executable), no directory entries,
and a gzip header without file name or time (``mtime=0``) at a fixed compression level. The same files give the
same bytes on any machine, in any folder, at any time.

``extract_tar_gz`` unpacks with the ``data`` filter (no absolute paths, no ``..``, no links out, no devices).
"""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Collection, Mapping
from pathlib import Path

FILE_MODE = 0o644
EXEC_MODE = 0o755


class ArchiveError(Exception):
    """An archive that cannot be written (bad path) or read (corrupt, unsafe member)."""


def _check_path(path: str) -> None:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ArchiveError(f"not a clean relative path inside an archive: {path!r}")


def tar_bytes(files: Mapping[str, bytes], executable: Collection[str] = ()) -> bytes:
    """The uncompressed tar stream of ``files`` (sorted, normalized headers)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path in sorted(files):
            _check_path(path)
            data = files[path]
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = EXEC_MODE if path in executable else FILE_MODE
            info.type = tarfile.REGTYPE
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def write_tar_gz(files: Mapping[str, bytes], executable: Collection[str] = ()) -> bytes:
    """The ``.tar.gz`` bytes of ``files``: deterministic tar, gzip with no name and mtime 0, level 9."""
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=9, mtime=0) as gz:
        gz.write(tar_bytes(files, executable))
    return out.getvalue()


def read_tar_gz(data: bytes) -> dict[str, bytes]:
    """The regular files of a ``.tar.gz`` as ``{path: bytes}``; raises ArchiveError when corrupt or unsafe."""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar.getmembers():
                if member.isdir():
                    continue
                if not member.isfile():
                    raise ArchiveError(f"archive member {member.name!r} is not a regular file")
                _check_path(member.name)
                fh = tar.extractfile(member)
                assert fh is not None
                files[member.name] = fh.read()
    except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ArchiveError(f"the archive is corrupt or not a .tar.gz ({type(exc).__name__}: {exc})") from None
    return files


def extract_tar_gz(archive: Path, dest: Path) -> list[str]:
    """Unpack ``archive`` into ``dest`` (created); returns the file paths written, sorted."""
    files = read_tar_gz(archive.read_bytes())
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, mode="r:gz") as tar:
        tar.extractall(dest, filter="data")
    return sorted(files)

"""Inputs to read: one file (plain or gzip), a zip archive, or a folder; with the limits that keep them safe.

Archives are checked before anything is read (member count, names that climb out of the archive,
archives inside the archive, encryption, declared sizes) and again while inflating, because declared
sizes can lie: the bytes actually produced are counted against the total and the compression ratio.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import IO, Any

from annotator.interchange.formats.base import Limits, Member, Problem, is_ignorable

NESTED_ARCHIVE_SUFFIXES = (
    ".zip", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".rar", ".zst", ".jar", ".whl", ".lz", ".lzma",
)  # fmt: skip
_MAGIC = {b"PK\x03\x04": "zip", b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\xfd7zXZ": "xz", b"7z\xbc\xaf": "7z"}
_RATIO_FLOOR = 2**20  # small members may compress far better than the ratio; the total still caps them
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SourceError(Exception):
    """The input is refused as a whole (unsafe or unreadable archive, a limit passed while inflating)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems[0].message)
        self.problems = problems


def sniff(path: Path) -> str | None:
    """The kind of compressed container the file is, by its first bytes; None for anything else."""
    with open(path, "rb") as file:
        head = file.read(8)
    return next((kind for magic, kind in _MAGIC.items() if head.startswith(magic)), None)


def unsafe_name_reason(name: str) -> str | None:
    """Why an archive member's name is refused, or None when it is a plain relative path."""
    if _CONTROL.search(name):
        return "its name contains control characters"
    if "\\" in name:
        return "its name contains a backslash"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "its name is an absolute path"
    if ".." in name.split("/"):
        return "its name climbs out of the archive (..)"
    return None


class _Counter:
    """Bytes consumed from the input file, for the progress bar."""

    def __init__(self) -> None:
        self.value = 0


class _CountingFile(io.RawIOBase):
    """A read-only file that counts what is read from it."""

    def __init__(self, file: IO[bytes], counter: _Counter) -> None:
        self._file = file
        self._counter = counter

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._file.readinto(buffer)  # type: ignore[attr-defined]
        self._counter.value += count or 0
        return count

    def close(self) -> None:
        self._file.close()
        super().close()


class _Inflated(io.RawIOBase):
    """A decompressing stream that refuses to produce more than the limits allow, as it goes."""

    def __init__(
        self,
        stream: IO[bytes],
        *,
        source: str,
        member: str,
        compressed: int,
        totals: _Counter,
        limits: Limits,
    ) -> None:
        self._stream = stream
        self._source, self._member = source, member
        self._compressed = max(compressed, 1)
        self._produced = 0
        self._totals = totals
        self._limits = limits

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._stream.readinto(buffer)  # type: ignore[attr-defined]
        if count:
            self._produced += count
            self._totals.value += count
            self._check()
        return count

    def _check(self) -> None:
        limits = self._limits
        if self._totals.value > limits.max_total_bytes:
            self._refuse(
                f"It inflates to more than {limits.max_total_bytes:,} bytes (the limit for one import)."
            )
        if self._produced > _RATIO_FLOOR and self._produced / self._compressed > limits.max_ratio:
            self._refuse(
                f"It inflates more than {limits.max_ratio:g} times its compressed size, "
                "which only a decompression bomb does."
            )

    def _refuse(self, message: str) -> None:
        raise SourceError([Problem(self._source, None, self._member or None, message)])

    def close(self) -> None:
        self._stream.close()
        super().close()


def _buffered(raw: io.RawIOBase) -> IO[bytes]:
    return io.BufferedReader(raw, buffer_size=2**18)  # type: ignore[arg-type]


class FileSource:
    """One file, read as it is, or inflated as it goes when it is gzip-compressed (`.jsonl.gz`)."""

    is_archive = False

    def __init__(self, path: Path, name: str, limits: Limits) -> None:
        self.path, self.name, self.limits = path, name, limits
        self._read = _Counter()
        self._inflated = _Counter()
        self._gzip = sniff(path) == "gzip"

    @property
    def bytes_read(self) -> int:
        return self._read.value

    @property
    def bytes_total(self) -> int | None:
        return os.path.getsize(self.path)

    def members(self) -> Iterator[Member]:
        name = self.name[:-3] if self._gzip and self.name.lower().endswith(".gz") else self.name
        yield Member(name, self._open, None if self._gzip else self.bytes_total)

    @contextmanager
    def _open(self) -> Iterator[IO[bytes]]:
        with open(self.path, "rb", buffering=0) as raw:
            counted = _buffered(_CountingFile(raw, self._read))  # type: ignore[arg-type]
            if not self._gzip:
                yield counted
                return
            inflated = _Inflated(
                gzip.GzipFile(fileobj=counted, mode="rb"),  # type: ignore[arg-type]
                source=self.name, member="", compressed=self.bytes_total or 1,
                totals=self._inflated, limits=self.limits,
            )  # fmt: skip
            try:
                yield _buffered(inflated)
            except (gzip.BadGzipFile, EOFError) as error:
                raise SourceError(
                    [Problem(self.name, None, None, f"The gzip file is damaged ({error}).")]
                ) from None


class ZipSource:
    """The members of a zip archive, checked as a whole before the first byte of any member is read."""

    is_archive = True

    def __init__(self, path: Path, name: str, limits: Limits) -> None:
        self.path, self.name, self.limits = path, name, limits
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as error:
            raise SourceError(
                [Problem(name, None, None, f"The zip archive cannot be read ({error}).")]
            ) from None
        self._infos = [info for info in self._zip.infolist() if not info.is_dir()]
        self._inflated = _Counter()
        self._done = 0
        self._check()

    def _check(self) -> None:
        problems: list[Problem] = []

        def refuse(member: str | None, message: str) -> None:
            problems.append(Problem(self.name, None, member, message))

        if len(self._infos) > self.limits.max_members:
            refuse(None, f"It holds {len(self._infos):,} files; the limit is {self.limits.max_members:,}.")
        declared = sum(info.file_size for info in self._infos)
        if declared > self.limits.max_total_bytes:
            refuse(
                None,
                f"Its files add up to {declared:,} bytes; the limit is {self.limits.max_total_bytes:,}.",
            )
        for info in self._infos:
            if reason := unsafe_name_reason(info.filename):
                refuse(info.filename, f"This archive member is refused: {reason}.")
            elif info.flag_bits & 0x1:
                refuse(info.filename, "This archive member is encrypted.")
            elif info.filename.lower().endswith(NESTED_ARCHIVE_SUFFIXES) and not is_ignorable(info.filename):
                refuse(info.filename, "Archives inside the archive are not read: unpack it first.")
            if len(problems) >= 20:
                break
        if problems:
            self._zip.close()
            raise SourceError(problems)

    @property
    def bytes_read(self) -> int:
        return self._done + self._inflated.value

    @property
    def bytes_total(self) -> int | None:
        return sum(info.file_size for info in self._infos)

    def members(self) -> Iterator[Member]:
        for info in self._infos:
            yield Member(info.filename, partial(self._open, info), info.file_size)

    @contextmanager
    def _open(self, info: zipfile.ZipInfo) -> Iterator[IO[bytes]]:
        try:
            member = self._zip.open(info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as error:
            raise SourceError(
                [Problem(self.name, None, info.filename, f"It cannot be read ({error}).")]
            ) from None
        inflated = _Inflated(
            member, source=self.name, member=info.filename, compressed=info.compress_size,
            totals=self._inflated, limits=self.limits,
        )  # fmt: skip
        stream = _buffered(inflated)
        try:
            head = stream.peek(8)[:8]  # type: ignore[attr-defined]
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            inflated.close()
            raise SourceError(
                [Problem(self.name, None, info.filename, f"It is damaged ({error}).")]
            ) from None
        if any(head.startswith(magic) for magic in _MAGIC):
            inflated.close()
            raise SourceError(
                [
                    Problem(
                        self.name,
                        None,
                        info.filename,
                        "It is an archive inside the archive: unpack it first.",
                    )
                ]
            )
        try:
            yield stream
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise SourceError(
                [Problem(self.name, None, info.filename, f"It is damaged ({error}).")]
            ) from None
        finally:
            inflated.close()

    def close(self) -> None:
        self._zip.close()


class DirectorySource:
    """The files under a folder (the command line's way to read brat or text folders), in name order."""

    is_archive = True

    def __init__(self, path: Path, name: str, limits: Limits) -> None:
        self.path, self.name, self.limits = path, name, limits
        self._files = sorted(file for file in path.rglob("*") if file.is_file() and not file.is_symlink())
        if len(self._files) > limits.max_members:
            raise SourceError(
                [
                    Problem(
                        name,
                        None,
                        None,
                        f"It holds {len(self._files):,} files; the limit is {limits.max_members:,}.",
                    )
                ]
            )
        self._read = _Counter()

    @property
    def bytes_read(self) -> int:
        return self._read.value

    @property
    def bytes_total(self) -> int | None:
        return sum(file.stat().st_size for file in self._files)

    def members(self) -> Iterator[Member]:
        for file in self._files:
            yield Member(
                file.relative_to(self.path).as_posix(), partial(self._open, file), file.stat().st_size
            )

    @contextmanager
    def _open(self, file: Path) -> Iterator[IO[bytes]]:
        with open(file, "rb", buffering=0) as raw:
            yield _buffered(_CountingFile(raw, self._read))  # type: ignore[arg-type]


class BytesSource:
    """One in-memory file: what tests and the API's small uploads use."""

    is_archive = False

    def __init__(self, name: str, data: bytes, limits: Limits | None = None) -> None:
        self.name, self._data, self.limits = name, data, limits or Limits()
        self._stream: io.BytesIO | None = None

    @property
    def bytes_read(self) -> int:
        return self._stream.tell() if self._stream else 0

    @property
    def bytes_total(self) -> int | None:
        return len(self._data)

    def members(self) -> Iterator[Member]:
        yield Member(self.name, self._open, len(self._data))

    @contextmanager
    def _open(self) -> Iterator[IO[bytes]]:
        self._stream = io.BytesIO(self._data)
        yield io.BufferedReader(self._stream)  # type: ignore[arg-type]


def open_source(
    path: Path, *, name: str | None = None, limits: Limits | None = None
) -> FileSource | ZipSource | DirectorySource:
    """The right source for a path: a folder, a zip archive (by its bytes, not its name), or one file."""
    limits = limits or Limits()
    name = name or path.name
    if path.is_dir():
        return DirectorySource(path, name, limits)
    kind = sniff(path)
    if kind == "zip":
        return ZipSource(path, name, limits)
    if kind not in (None, "gzip"):
        raise SourceError([Problem(name, None, None, f"{kind} archives are not read: use zip or gzip.")])
    return FileSource(path, name, limits)

"""Location records in: CSV, Parquet, GeoLife ``points.csv.gz`` and GeoLife ``.plt``.

Every reader returns the same Arrow table (:data:`RECORD_SCHEMA`)::

    phone    string   mainland mobile number, 11 digits (``+86``/``86`` prefix removed)
    epoch_s  int64    seconds since 1970-01-01T00:00:00Z (UTC; sub-seconds dropped)
    lon, lat float64  WGS-84 degrees (from the row, or from the cell-site table)
    cell_id  string   the row's cell id, or null

Formats (detected from the extension, the Parquet magic bytes and the header):

* ``csv`` / ``parquet``: columns ``phone``, ``time`` (ISO-8601 *with* a UTC
  offset or ``Z``; a time without one is a row error), and ``lon``/``lat`` or
  ``cell_id`` (joined to a cell-site table, see :func:`read_cell_sites`). Extra
  columns are ignored. A Parquet ``time`` may also be a timezone-aware timestamp.
* ``geolife-points``: the ``points.csv.gz`` layout of the shared GeoLife subset
  (``subset, user, …, lat, lon, altitude_ft, time_utc``); times are UTC by format.
* ``plt``: GeoLife 1.3 trajectory files (6 header lines, then
  ``lat,lon,0,alt_ft,days,date,time``; date and time are UTC/GMT by format).

GeoLife has no phone numbers: :class:`GeolifePhoneMap` maps (subset, user) to a
synthetic number ``1990000`` + subset digit + three-digit user id.

All or nothing: :func:`inspect_records` returns the good rows *and* every bad
row (file, line, stable code, message); :func:`read_records` raises
:class:`~healthcode.trips.errors.RecordsRejected` when there is any bad row, so
an import never stores part of its input. Exact duplicate rows are dropped and
counted; the order of rows does not matter.

Line numbers: text files count physical lines from 1 (the CSV header is line
1); Parquet rows count from 1; ``line`` 0 means the whole file.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, ClassVar, Final, Literal, NoReturn, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from healthcode.trips.errors import (
    CellSitesRejected,
    FormatMismatch,
    OptionFileRejected,
    PhoneMapRejected,
    RecordsRejected,
    RowErrorCode,
    UnknownRecordFormat,
)
from healthcode.trips.geo import gcj02_to_wgs84

RECORD_SCHEMA: Final = pa.schema(
    [
        pa.field("phone", pa.string(), nullable=False),
        pa.field("epoch_s", pa.int64(), nullable=False),
        pa.field("lon", pa.float64(), nullable=False),
        pa.field("lat", pa.float64(), nullable=False),
        pa.field("cell_id", pa.string()),
    ]
)

_PHONE_RE: Final = r"1[3-9][0-9]{9}"  # ASCII digits only (as holders.identity)
_OFFSET_RE: Final = re.compile(r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$")
_DATETIME_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


class RecordFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"
    GEOLIFE_POINTS = "geolife-points"
    PLT = "plt"


@dataclass(frozen=True)
class RowError:
    """One bad row (or, with ``line == 0``, a bad file)."""

    file: str
    line: int
    code: RowErrorCode
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "code": str(self.code),
            "message": self.message,
        }


@dataclass(frozen=True)
class ReadReport:
    """What :func:`inspect_records` found.

    ``records`` holds the good rows only (deduplicated); an importer must not
    store them unless :attr:`ok` — use :func:`read_records` for that.
    """

    records: pa.Table
    errors: tuple[RowError, ...]  #: the first ``max_errors`` errors, by file then line
    error_count: int  #: all errors
    rows: int  #: data rows read (good and bad)
    duplicates: int  #: exact duplicate rows dropped
    files: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def raise_for_errors(self, error: type[RecordsRejected] = RecordsRejected) -> None:
        """:raises RecordsRejected: when any row or file was bad (``details`` lists them);
        ``error``: a subclass to raise instead."""
        if self.ok:
            return
        raise error(  # the rows are listed from details (first 1,000), once
            f"{self.error_count} bad row(s) in {len({e.file for e in self.errors})} file(s); "
            "no record was used",
            details={"error_count": self.error_count, "errors": [e.to_dict() for e in self.errors]},
        )


# --- GeoLife phone numbers ---------------------------------------------------------------


@dataclass(frozen=True)
class GeolifePhoneMap:
    """(subset, user) → synthetic mainland mobile number, deterministic and documented.

    Default: ``"1990000" + str(subset digit) + user`` (user as three digits):
    subset digit 0 = the original GeoLife 1.3 layout (``Data/NNN/Trajectory``),
    1 = ``geolife_long_10_MB``, 2 = ``geolife_modes``. So user 010 is
    ``19900001010`` (long; card ``199****1010``) and ``19900002010`` (modes;
    ``199****2010``): the last four digits tell subset and user apart even masked.
    ``199`` is a China Telecom mobile prefix; these numbers are for test data only.
    ``overrides`` (e.g. from :meth:`from_csv`) take precedence.
    """

    SUBSET_DIGITS: ClassVar[Mapping[str, int]] = MappingProxyType(
        {"geolife": 0, "geolife_long_10_MB": 1, "geolife_modes": 2}
    )
    overrides: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def phone_for(self, subset: str, user: str) -> str:
        """:raises ValueError: unknown subset without override, or a user id that is not 1-3 digits."""
        user = user.strip()
        key = (subset, user.zfill(3))
        if key in self.overrides:
            return self.overrides[key]
        if subset not in self.SUBSET_DIGITS:
            raise ValueError(f"no phone number for GeoLife subset {subset!r}: give a phone map")
        if not user.isdigit() or len(user) > 3:
            raise ValueError(f"GeoLife user id must be 1-3 digits, not {user!r}")
        return f"1990000{self.SUBSET_DIGITS[subset]}{user.zfill(3)}"

    @classmethod
    def from_csv(cls, path: str | Path) -> GeolifePhoneMap:
        """Overrides from a UTF-8 CSV with columns ``subset,user,phone``; ``user`` is a
        GeoLife id of 1-3 digits (``2`` and ``002`` are one user).

        :raises PhoneMapRejected: unreadable or not UTF-8, no rows, missing columns, a row
            with the wrong number of fields, a user that is not 1-3 digits, an invalid phone,
            a user listed twice, one number for two users (also another user's default
            number, unless that user is mapped too). Nothing is used then (CLI exit 2).
        """
        name = str(path)
        errors: list[RowError] = []
        overrides: dict[tuple[str, str], str] = {}
        lines: dict[tuple[str, str], int] = {}
        try:
            text = Path(path).read_bytes().decode("utf-8-sig")
        except OSError as exc:
            _reject_option_file(name, RowErrorCode.UNREADABLE, str(exc), PhoneMapRejected)
        except UnicodeDecodeError:
            _reject_option_file(
                name, RowErrorCode.NOT_UTF8, _not_utf8(Path(path)), PhoneMapRejected
            )
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next((row for row in reader if row), None)
        if header is None:
            _reject_option_file(name, RowErrorCode.EMPTY_FILE, "no header", PhoneMapRejected)
        cols = {h.strip().lower(): i for i, h in enumerate(header)}
        missing = sorted({"subset", "user", "phone"} - cols.keys())
        if missing:
            _reject_option_file(
                name, RowErrorCode.MISSING_COLUMN, f"missing {missing}", PhoneMapRejected, line=1
            )
        prev = reader.line_num
        for row in reader:
            line, prev = prev + 1, reader.line_num
            if not row:
                continue

            def bad(code: RowErrorCode, message: str, at: int = line) -> None:
                errors.append(RowError(name, at, code, message))

            if len(row) != len(header) or reader.line_num != line:
                bad(RowErrorCode.MALFORMED_ROW, f"expected {len(header)} fields on one line")
                continue
            subset = row[cols["subset"]].strip()
            user = row[cols["user"]].strip()
            phone = _normalise_phone(row[cols["phone"]])
            if not (user.isascii() and user.isdigit() and len(user) <= 3):
                bad(RowErrorCode.INVALID_USER, f"user {user!r} is not a 1-3 digit GeoLife id")
                continue
            if not re.fullmatch(_PHONE_RE, phone):
                bad(RowErrorCode.INVALID_PHONE, repr(row[cols["phone"]]))
                continue
            key = (subset, user.zfill(3))
            if key in overrides:
                bad(RowErrorCode.DUPLICATE_USER, f"{subset} user {key[1]} already mapped on line {lines[key]}")  # fmt: skip
                continue
            overrides[key] = phone
            lines[key] = line
        if not errors and not overrides:
            errors.append(RowError(name, 0, RowErrorCode.EMPTY_FILE, "no rows"))
        owners: dict[str, tuple[str, str]] = {}
        for key, phone in overrides.items():
            if phone in owners:
                other = owners[phone]
                errors.append(RowError(name, lines[key], RowErrorCode.PHONE_CONFLICT, f"{phone} is also given to {other[0]} user {other[1]} (line {lines[other]})"))  # fmt: skip
            owners.setdefault(phone, key)
        digits = {d: s for s, d in cls.SUBSET_DIGITS.items()}
        for key, phone in overrides.items():
            default = re.fullmatch(r"1990000([0-9])([0-9]{3})", phone)
            if default is None or int(default[1]) not in digits:
                continue
            other = (digits[int(default[1])], default[2])
            if other != key and other not in overrides:
                errors.append(RowError(name, lines[key], RowErrorCode.PHONE_CONFLICT, f"{phone} is the default number of {other[0]} user {other[1]}: map that user too"))  # fmt: skip
        if errors:
            _report(pa.table({}), errors, 0, 0, (name,)).raise_for_errors(PhoneMapRejected)
        return cls(overrides=overrides)

    def for_plt(self, path: Path) -> str:
        """Phone for a ``.plt`` file from its folders: ``…/<user>/Trajectory/x.plt``.

        ``<user>`` is ``NNN`` (original layout, subset ``geolife``) or
        ``long_NNN`` / ``modes_NNN`` (the shared subset's ``plt/`` folder).
        :raises ValueError: the folders do not name a user.
        """
        folder = path.parent.parent.name if path.parent.name == "Trajectory" else path.parent.name
        prefix, _, user = folder.rpartition("_")
        subset = {"": "geolife", "long": "geolife_long_10_MB", "modes": "geolife_modes"}.get(prefix)
        if subset is None or not user.isdigit():
            raise ValueError(f"cannot tell the GeoLife user of {path}: give phone= or a phone map")
        return self.phone_for(subset, user)


def _reject_option_file(
    name: str, code: RowErrorCode, message: str, error: type[OptionFileRejected], *, line: int = 0
) -> NoReturn:
    """:raises OptionFileRejected: (``error``) for the whole file."""
    _report(pa.table({}), [RowError(name, line, code, message)], 0, 0, (name,)).raise_for_errors(
        error
    )
    raise AssertionError  # pragma: no cover - raise_for_errors raised


def _not_utf8(path: Path) -> str:
    """Where a (gunzipped) file stops being UTF-8, for people: line, byte offset, bytes."""
    offset, line, carry = 0, 1, b""
    try:
        with _open_binary(path) as fh:
            while chunk := fh.read(1 << 20):
                data = carry + chunk
                try:
                    data.decode("utf-8")
                    good, carry = data, b""
                except UnicodeDecodeError as exc:
                    if exc.end == len(data) and len(data) - exc.start < 4:
                        good, carry = data[: exc.start], data[exc.start :]  # cut in a character
                    else:
                        offset += exc.start
                        line += data[: exc.start].count(b"\n")
                        bad = data[exc.start : exc.start + 4].hex(" ")
                        return (
                            f"not UTF-8 text: line {line}, byte offset {offset} ({bad}…) is not "
                            "UTF-8 (GBK? Latin-1? UTF-16?); save the file as UTF-8"
                        )
                offset += len(good)
                line += good.count(b"\n")
    except (OSError, EOFError, zlib.error):
        pass
    where = f"line {line}, byte offset {offset}" if carry else "somewhere"
    return f"not UTF-8 text ({where}); save the file as UTF-8"


# --- cell sites --------------------------------------------------------------------------


@dataclass(frozen=True)
class CellSites:
    """Cell-site table: ``cell_id`` (string) → WGS-84 ``lon``, ``lat``."""

    table: pa.Table  #: columns cell_id (string, unique), lon, lat (float64)
    source: str = ""
    datum: str = "wgs84"  #: datum of the *source* coordinates (``table`` is always WGS-84)

    def __len__(self) -> int:
        return int(self.table.num_rows)


def read_cell_sites(path: str | Path, *, datum: Literal["wgs84", "gcj02"] = "wgs84") -> CellSites:
    """Read a cell-site table: ``cell_id, lon, lat`` or the Shanghai Telecom layout
    ``station_id, latitude, longitude`` (its ``station_id`` becomes ``cell_id``).

    :param datum: datum of the file's coordinates; ``gcj02`` converts to WGS-84.
        The Shanghai file does not document its datum; we read it as WGS-84 (the
        datum of operators' site surveys). Read as GCJ-02 instead, 2 of its 3,042
        sites change city (上海市 → 苏州市 near the border); see docs/trip-card.md.
    :raises CellSitesRejected: unreadable or not UTF-8, missing columns, bad coordinates,
        duplicate ids, empty file (the CLI exits 2).
    """
    p = Path(path)
    name = str(p)
    rejected = CellSitesRejected
    try:
        with open(p, "rb") as fh:
            parquet = fh.read(4) == b"PAR1"
    except OSError as exc:
        _reject_option_file(name, RowErrorCode.UNREADABLE, str(exc), rejected)
    if parquet:
        _reject_option_file(
            name, RowErrorCode.UNREADABLE, "a Parquet file: give the cell-site table as CSV",
            rejected,
        )  # fmt: skip
    try:
        header, lines, raw = _read_csv_columns(p)
    except UnicodeDecodeError:
        _reject_option_file(name, RowErrorCode.NOT_UTF8, _not_utf8(p), rejected)
    except (OSError, EOFError, csv.Error, zlib.error) as exc:  # BadGzipFile is an OSError
        _reject_option_file(
            name, RowErrorCode.UNREADABLE, f"not a readable CSV file: {exc or type(exc).__name__}",
            rejected,
        )  # fmt: skip
    errors: list[RowError] = []
    if header is None:
        _reject_option_file(name, RowErrorCode.EMPTY_FILE, "no header", rejected)
    cols = {h.strip().lower(): i for i, h in enumerate(header)}
    if {"station_id", "latitude", "longitude"} <= cols.keys():
        id_col, lon_col, lat_col = "station_id", "longitude", "latitude"
    else:
        id_col, lon_col, lat_col = "cell_id", "lon", "lat"
    missing = [c for c in (id_col, lon_col, lat_col) if c not in cols]
    if missing:
        errors.append(
            RowError(name, 1, RowErrorCode.MISSING_COLUMN, f"missing column(s) {missing}")
        )
    elif not lines:
        errors.append(RowError(name, 0, RowErrorCode.EMPTY_FILE, "no cell sites"))
    if errors:
        _report(pa.table({}), errors, 0, 0, (name,)).raise_for_errors(rejected)
    n = len(lines)
    bad = raw["_bad"]
    ids = pd.Series(raw[cols[id_col]], dtype="string").str.strip()
    lon = pd.to_numeric(pd.Series(raw[cols[lon_col]], dtype="string"), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    lat = pd.to_numeric(pd.Series(raw[cols[lat_col]], dtype="string"), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    code = np.full(n, "", dtype=object)
    msg = np.full(n, "", dtype=object)
    _flag(code, msg, bad == _SHAPE_NEWLINE, RowErrorCode.NEWLINE_IN_VALUE, _ROW_CHECKS[0][1])
    _flag(code, msg, bad != _SHAPE_OK, RowErrorCode.MALFORMED_ROW, f"expected {len(header)} fields")
    _flag(
        code,
        msg,
        (ids.isna() | (ids == "")).to_numpy(),
        RowErrorCode.MALFORMED_ROW,
        "empty cell id",
    )
    _flag(
        code,
        msg,
        ~_coords_ok(lon, lat),
        RowErrorCode.INVALID_COORDINATES,
        "lon/lat not valid degrees",
    )
    _flag(
        code,
        msg,
        ids.duplicated(keep="first").to_numpy(),
        RowErrorCode.DUPLICATE_CELL_ID,
        "cell id listed twice",
    )
    errors = _collect(name, lines, code, msg)
    if errors:
        _report(pa.table({}), errors, n, 0, (name,)).raise_for_errors(rejected)
    if datum == "gcj02":
        lon, lat = gcj02_to_wgs84(lon, lat)
    table = pa.table(
        {"cell_id": pa.array(ids.to_numpy(dtype=object), pa.string()), "lon": lon, "lat": lat}
    )
    return CellSites(table=table, source=name, datum=datum)


# --- format detection --------------------------------------------------------------------

#: Extensions that name a format. ``.csv`` (also ``.csv.gz``) allows both CSV layouts.
_EXTENSION_FORMATS: Final[Mapping[str, frozenset[RecordFormat]]] = MappingProxyType(
    {
        ".parquet": frozenset({RecordFormat.PARQUET}),
        ".pq": frozenset({RecordFormat.PARQUET}),
        ".plt": frozenset({RecordFormat.PLT}),
        ".csv": frozenset({RecordFormat.CSV, RecordFormat.GEOLIFE_POINTS}),
    }
)
_GZIP_MAGIC: Final = b"\x1f\x8b"


#: Bounds on the work a text record file can ask for (a small gzip can unpack to GiBs).
MAX_UNPACKED_BYTES: Final = 2 << 30  #: a gzip file unpacks to at most 2 GiB
MAX_LINE_BYTES: Final = 64 << 10  #: a line is at most 64 KiB
MAX_BLANK_LINES: Final = 1_000_000  #: blank lines in a file


class _OverBound(OSError):
    """A text file beyond :data:`MAX_UNPACKED_BYTES`, :data:`MAX_LINE_BYTES` or
    :data:`MAX_BLANK_LINES` (an ``OSError``: every reader already refuses those)."""

    def __init__(self, code: RowErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class _Bounded(io.RawIOBase):
    """The bytes of ``raw``, refused (:class:`_OverBound`) as soon as they pass a bound:
    checked on whole chunks with numpy, never byte by byte."""

    def __init__(self, raw: IO[bytes], *, limit: int | None) -> None:
        self._raw, self._limit = raw, limit
        self._total = self._run = self._blank = 0

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()
        super().close()

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        if n:
            self._check(data)
        return n

    def _check(self, data: bytes) -> None:
        self._total += len(data)
        if self._limit is not None and self._total > self._limit:
            raise _OverBound(
                RowErrorCode.FILE_TOO_LARGE,
                f"unpacks to more than {self._limit >> 30} GiB: split the file",
            )
        b = np.frombuffer(data, dtype=np.uint8)
        ends = np.flatnonzero((b == 10) | (b == 13))
        if ends.size == 0:
            longest, self._run = self._run + len(data), self._run + len(data)
        else:
            gaps = np.diff(ends) - 1
            longest = max(self._run + int(ends[0]), int(gaps.max()) if gaps.size else 0)
            self._run = len(data) - 1 - int(ends[-1])
            nl = np.flatnonzero(b == 10)
            step = np.diff(nl)
            self._blank += int(np.count_nonzero(step == 1))
            self._blank += int(np.count_nonzero((step == 2) & (b[nl[1:] - 1] == 13)))
        if longest > MAX_LINE_BYTES:
            raise _OverBound(
                RowErrorCode.LINE_TOO_LONG,
                f"a line longer than {MAX_LINE_BYTES >> 10} KiB near byte {self._total}: "
                "not a record file",
            )
        if self._blank > MAX_BLANK_LINES:
            raise _OverBound(
                RowErrorCode.LINE_TOO_LONG, f"more than {MAX_BLANK_LINES:,} blank lines"
            )


def _open_binary(path: Path) -> IO[bytes]:
    """A record file's bytes, gunzipped when it starts with gzip's magic; bounded (a gzip
    file to :data:`MAX_UNPACKED_BYTES`, every line to :data:`MAX_LINE_BYTES`)."""
    with open(path, "rb") as fh:
        gz = fh.read(2) == _GZIP_MAGIC
    raw = cast(IO[bytes], gzip.open(path, "rb") if gz else open(path, "rb"))
    bounded = _Bounded(raw, limit=MAX_UNPACKED_BYTES if gz else None)
    return cast(IO[bytes], io.BufferedReader(bounded, buffer_size=1 << 20))


def _open_text(path: Path) -> IO[str]:
    """A record file as text (UTF-8, BOM dropped), gunzipped when it starts with gzip's
    magic, bounded as :func:`_open_binary`."""
    return io.TextIOWrapper(_open_binary(path), encoding="utf-8-sig", newline="")


def _refusal(name: str, exc: BaseException) -> _FileRefused:
    """Why a text file cannot be read, as a whole-file error."""
    if isinstance(exc, _OverBound):
        return _FileRefused(name, exc.code, str(exc))
    if isinstance(exc, UnicodeDecodeError):
        return _FileRefused(name, RowErrorCode.NOT_UTF8, _not_utf8(Path(name)))
    return _FileRefused(name, RowErrorCode.UNREADABLE, str(exc) or type(exc).__name__)


@dataclass(frozen=True)
class _Sniff:
    """What a file's first bytes say it is (``kind`` None: none of the record formats)."""

    kind: RecordFormat | None
    looks_like: str  #: for messages: "a Parquet file (PAR1 magic bytes)", …
    empty: bool = False  #: no bytes, or only blank lines
    binary: bool = False  #: neither Parquet nor UTF-8 text
    not_utf8: bool = False  #: starts as text that is not UTF-8 (GBK, Latin-1, UTF-16…)


def _looks_like_text(p: Path) -> bool:
    """Whether a file that is not UTF-8 is still text (to save as UTF-8), not binary data:
    a UTF-16/32 byte-order mark, or no NUL in the first 4 KiB and an ASCII start (a GBK or
    Latin-1 CSV has an ASCII header)."""
    try:
        with _open_binary(p) as fh:
            head = fh.read(4096)
    except (OSError, EOFError, zlib.error):
        return False
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    return b"\x00" not in head and bool(head) and (32 <= head[0] < 127 or head[0] in (9, 10, 13))


def _sniff(p: Path) -> _Sniff:
    """Look at the magic bytes and the first non-blank line.

    :raises UnknownRecordFormat: the file cannot be opened.
    """
    try:
        with open(p, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise UnknownRecordFormat(f"cannot read {p}: {exc.strerror or exc}") from exc
    if magic == b"PAR1":
        return _Sniff(RecordFormat.PARQUET, "a Parquet file (PAR1 magic bytes)")
    if not magic:
        return _Sniff(None, "an empty file", empty=True)
    first = ""
    try:
        with _open_text(p) as fh:
            for _ in range(20):  # a few blank lines may precede the header
                line = fh.readline(MAX_LINE_BYTES)
                if not line or line.strip():
                    first = line.strip()
                    break
    except _OverBound:
        return _Sniff(None, "text with an over-long line")  # the reader refuses it
    except UnicodeDecodeError:
        if _looks_like_text(p):
            return _Sniff(None, "text that is not UTF-8", binary=True, not_utf8=True)
        return _Sniff(None, "binary data (neither Parquet nor UTF-8 text)", binary=True)
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error):
        return _Sniff(None, "binary data (neither Parquet nor UTF-8 text)", binary=True)
    if not first:
        return _Sniff(None, "an empty file", empty=True)
    shown = first[:60] + ("…" if len(first) > 60 else "")
    if first.lower().startswith("geolife trajectory"):
        return _Sniff(
            RecordFormat.PLT, "a GeoLife .plt trajectory (first line 'Geolife trajectory')"
        )
    try:
        header = {h.strip().lower() for h in next(csv.reader([first]))}
    except csv.Error:
        header = set()
    if {"subset", "user", "lat", "lon", "time_utc"} <= header:
        return _Sniff(RecordFormat.GEOLIFE_POINTS, f"a GeoLife points CSV (header {shown!r})")
    if {"phone", "time"} <= header:
        return _Sniff(RecordFormat.CSV, f"a record CSV (header {shown!r})")
    return _Sniff(None, f"text beginning {shown!r}")


def _fits(fmt: RecordFormat, sniff: _Sniff) -> bool:
    """Whether content can be ``fmt``: a recognised layout must be that one, a Parquet file
    needs its magic bytes, the text formats need text. Empty files fit (the reader says so)."""
    if sniff.empty:
        return True
    if sniff.kind is not None:
        return sniff.kind is fmt
    if fmt is RecordFormat.PARQUET:
        return False
    return not sniff.binary


def _extension_formats(p: Path) -> tuple[str, frozenset[RecordFormat]] | None:
    suffixes = [s.lower() for s in p.suffixes]
    if suffixes[-2:] == [".csv", ".gz"]:
        return ".csv.gz", _EXTENSION_FORMATS[".csv"]
    ext = suffixes[-1] if suffixes else ""
    return (ext, _EXTENSION_FORMATS[ext]) if ext in _EXTENSION_FORMATS else None


def _mismatch(p: Path, given: str, sniff: _Sniff, hint: str) -> RowError:
    return RowError(
        str(p), 0, RowErrorCode.FORMAT_MISMATCH,
        f"{given}, but the file looks like {sniff.looks_like}; {hint}",
    )  # fmt: skip


def _choose_format(p: Path, fmt: RecordFormat | None) -> RecordFormat | RowError:
    """The format to read ``p`` with, or a ``format-mismatch`` error for the whole file.

    With ``fmt`` (``--format``) the content must fit it. Without, the content decides
    (magic bytes, header) and must fit what the extension says; an unrecognised
    content falls back to the extension.

    :raises UnknownRecordFormat: the file cannot be opened, or its format cannot be told.
    """
    sniff = _sniff(p)
    if sniff.not_utf8 and fmt is not RecordFormat.PARQUET:
        return RowError(str(p), 0, RowErrorCode.NOT_UTF8, _not_utf8(p))
    if fmt is not None:
        if _fits(fmt, sniff):
            return fmt
        hint = (
            f"give --format {sniff.kind} or leave --format out"
            if sniff.kind is not None
            else f"this is not a {fmt} file"
        )
        return _mismatch(p, f"--format {fmt} was chosen", sniff, hint)
    named = _extension_formats(p)
    if named is not None:
        ext, allowed = named
        if not any(_fits(f, sniff) for f in allowed):
            claimed = " or ".join(sorted(str(f) for f in allowed))
            return _mismatch(
                p, f"the name ({ext}) says {claimed}", sniff,
                "rename it to what it holds",
            )  # fmt: skip
    if sniff.kind is not None:
        return sniff.kind
    if named is not None and (sniff.empty or RecordFormat.CSV not in named[1]):
        # a .plt without its "Geolife trajectory" line; an empty file (the reader says so)
        return min(named[1])
    if sniff.empty and p.suffix.lower() in (".gz", ".txt"):
        return RecordFormat.CSV
    raise UnknownRecordFormat(
        f"{p}: unknown record format ({sniff.looks_like}); expected phone,time,lon,lat|cell_id "
        "CSV, Parquet, GeoLife points.csv(.gz) or .plt"
    )


def detect_format(path: str | Path) -> RecordFormat:
    """Format of a record file, from its magic bytes and header, checked against its
    extension (``.parquet``/``.pq``, ``.plt``, ``.csv``/``.csv.gz``).

    :raises FormatMismatch: the content is another format than the extension says.
    :raises UnknownRecordFormat: the file cannot be read, or no format matches.
    """
    p = Path(path)
    chosen = _choose_format(p, None)
    if isinstance(chosen, RowError):
        _raise_mismatches([chosen])
    return chosen


def _raise_mismatches(errors: Sequence[RowError]) -> NoReturn:
    """:raises FormatMismatch: naming every mismatched file."""
    raise FormatMismatch(
        f"{len(errors)} file(s) not of the format given (by --format or the file name); "
        "nothing read",
        details={"error_count": len(errors), "errors": [e.to_dict() for e in errors]},
    )


# --- the readers ---------------------------------------------------------------------------


def inspect_records(
    paths: str | Path | Iterable[str | Path],
    *,
    fmt: RecordFormat | str | None = None,
    cell_sites: CellSites | None = None,
    phone_map: GeolifePhoneMap | None = None,
    phone: str | None = None,
    max_errors: int = 1000,
) -> ReadReport:
    """Read record files and report every bad row; never raises for bad rows.

    Rows are checked column by column (Arrow compute kernels and numpy on whole
    columns, no Python per row); bad rows are then located by line number, which for
    a CSV file means reading it once more line by line (only when it has bad rows).

    :param fmt: force one format for all files (default: detect per file).
    :param cell_sites: table for rows that give ``cell_id`` instead of lon/lat.
    :param phone_map: GeoLife (subset, user) → phone (default :class:`GeolifePhoneMap`).
    :param phone: phone number for ``.plt`` files (default: from their folders).
    :param max_errors: how many errors to list (all are counted).
    :raises FormatMismatch: a file's content is not the format given by ``fmt`` or by its
        extension (checked for every file before any is read; nothing is read).
    :raises UnknownRecordFormat: a file's format cannot be detected.
    """
    plist = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    pmap = phone_map or GeolifePhoneMap()
    forced = RecordFormat(fmt) if fmt is not None else None
    tables: list[pa.Table] = []
    errors: list[RowError] = []
    error_count = 0
    rows = 0
    # every file's format first: a file given as the wrong format refuses the whole input
    kinds: list[RecordFormat | None] = []
    mismatches: list[RowError] = []
    for p in plist:
        if not p.is_file():
            errors.append(RowError(str(p), 0, RowErrorCode.UNREADABLE, "not a file"))
            error_count += 1
            kinds.append(None)
            continue
        chosen = _choose_format(p, forced)
        if isinstance(chosen, RowError) and chosen.code is RowErrorCode.NOT_UTF8:
            errors.append(chosen)  # a text file to save as UTF-8, not another format
            error_count += 1
            kinds.append(None)
        elif isinstance(chosen, RowError):
            mismatches.append(chosen)
            kinds.append(None)
        else:
            kinds.append(chosen)
    if mismatches:
        _raise_mismatches(mismatches)
    for p, kind in zip(plist, kinds, strict=True):
        if kind is None:
            continue
        try:
            if kind is RecordFormat.PARQUET:
                got = _read_parquet(p, cell_sites, max_errors)
            elif kind is RecordFormat.PLT:
                plt_phone = phone or _plt_phone(p, pmap, errors)
                error_count += 0 if plt_phone else 1
                got = _read_plt(p, plt_phone, max_errors)
            elif kind is RecordFormat.GEOLIFE_POINTS:
                got = _read_geolife_points(p, pmap, max_errors)
            else:
                got = _read_csv(p, cell_sites, max_errors)
        except _FileRefused as refused:
            got = _Read(RECORD_SCHEMA.empty_table(), [refused.error], 1, refused.rows)
        tables.append(got.table)
        errors.extend(got.errors)
        error_count += got.error_count
        rows += got.rows
    merged = pa.concat_tables(tables) if tables else RECORD_SCHEMA.empty_table()
    before = merged.num_rows
    merged = _dedupe(merged)
    return _report(
        merged, errors, rows, before - merged.num_rows, tuple(str(p) for p in plist), max_errors,
        error_count=error_count,
    )  # fmt: skip


def read_records(
    paths: str | Path | Iterable[str | Path],
    *,
    fmt: RecordFormat | str | None = None,
    cell_sites: CellSites | None = None,
    phone_map: GeolifePhoneMap | None = None,
    phone: str | None = None,
    max_errors: int = 1000,
) -> pa.Table:
    """Read record files, all or nothing (same parameters as :func:`inspect_records`).

    :returns: a :data:`RECORD_SCHEMA` table (deduplicated, in file order).
    :raises RecordsRejected: any bad row or file; ``details`` lists them.
    :raises FormatMismatch: a file is not the format given by ``fmt`` or its extension.
    :raises UnknownRecordFormat: a file's format cannot be detected.
    """
    report = inspect_records(
        paths,
        fmt=fmt,
        cell_sites=cell_sites,
        phone_map=phone_map,
        phone=phone,
        max_errors=max_errors,
    )
    report.raise_for_errors()
    return report.records


def _plt_phone(path: Path, pmap: GeolifePhoneMap, errors: list[RowError]) -> str:
    try:
        return pmap.for_plt(path)
    except ValueError as exc:
        errors.append(RowError(str(path), 0, RowErrorCode.INVALID_PHONE, str(exc)))
        return ""


def _report(
    table: pa.Table,
    errors: list[RowError],
    rows: int,
    duplicates: int,
    files: tuple[str, ...],
    max_errors: int = 1000,
    *,
    error_count: int | None = None,
) -> ReadReport:
    order = {f: i for i, f in enumerate(files)}
    ordered = sorted(errors, key=lambda e: (order.get(e.file, len(order)), e.line))
    count = len(errors) if error_count is None else error_count
    if count:
        table = RECORD_SCHEMA.empty_table()
    return ReadReport(
        records=table if table.num_columns else RECORD_SCHEMA.empty_table(),
        errors=tuple(ordered[:max_errors]),
        error_count=count,
        rows=rows,
        duplicates=duplicates,
        files=files,
    )


def _dedupe(table: pa.Table) -> pa.Table:
    """Drop exact duplicate rows, keeping each first occurrence, in order.

    Duplicates share phone and second, so rows are first hashed on those two alone
    (``phone`` is 11 digits: an int64); only rows whose (phone, second) hash occurs more
    than once are compared on all five columns (``-0.0`` and ``0.0`` are the same degree).
    """
    n = table.num_rows
    if n < 2:
        return table
    try:
        phone = np.asarray(pc.cast(table.column("phone"), pa.int64()).to_numpy(), dtype=np.int64)
    except pa.ArrowInvalid:  # not only canonical numbers: compare every row
        rows = np.arange(n)
    else:
        epoch = np.asarray(table.column("epoch_s").to_numpy(), dtype=np.int64)
        with np.errstate(over="ignore"):
            key = phone * np.int64(1_000_003) + epoch  # wraps: a collision is only a candidate
        ordered = np.sort(key)
        repeated = ordered[1:][ordered[1:] == ordered[:-1]]
        if repeated.size == 0:
            return table
        repeated = np.unique(repeated)  # few: look every key up in them
        at = np.minimum(np.searchsorted(repeated, key), repeated.size - 1)
        rows = np.flatnonzero(repeated[at] == key)
    sub = table.take(pa.array(rows)).append_column("_row", pa.array(rows))
    for name in ("lon", "lat"):  # -0.0 + 0.0 == 0.0: one key for the two zeros
        i = sub.schema.get_field_index(name)
        sub = sub.set_column(i, name, pc.add(sub.column(name), 0.0))
    first = sub.group_by(["phone", "epoch_s", "lon", "lat", "cell_id"], use_threads=False)
    keep_rows = first.aggregate([("_row", "min")]).column("_row_min").to_numpy()
    drop = np.zeros(n, dtype=bool)
    drop[rows] = True  # a candidate is dropped unless it is the first of its group
    drop[keep_rows] = False
    if not drop.any():
        return table
    return table.filter(pa.array(~drop))


def _read_csv_columns(path: Path) -> tuple[list[str] | None, list[int], dict[Any, Any]]:
    """Header, physical line number of each data row, and raw string columns.

    ``raw[i]`` is column ``i`` (missing fields → ``""``); ``raw["_bad"]`` marks rows
    whose field count differs from the header. Blank lines are skipped. This is the
    exact (line by line) reading, used to give bad rows their line numbers.
    """
    with _open_text(path) as fh:
        reader = csv.reader(fh)
        header: list[str] | None = None
        for row in reader:
            if row:
                header = row
                break
        if header is None:
            return None, [], {"_bad": np.zeros(0, dtype=np.int8)}
        width = len(header)
        lines: list[int] = []
        cols: list[list[str]] = [[] for _ in range(width)]
        bad: list[int] = []
        prev_line = reader.line_num
        for row in reader:
            if not row:
                prev_line = reader.line_num
                continue
            lines.append(prev_line + 1)  # first physical line of the record
            spans = reader.line_num - prev_line > 1  # a newline inside quotes, or an open quote
            prev_line = reader.line_num
            ok = len(row) == width
            bad.append(_SHAPE_NEWLINE if spans else _SHAPE_OK if ok else _SHAPE_FIELDS)
            if not ok:
                row = (row + [""] * width)[:width]
            for i, value in enumerate(row):
                cols[i].append(value)
    raw: dict[Any, Any] = dict(enumerate(cols))
    raw["_bad"] = np.array(bad, dtype=np.int8)
    return header, lines, raw


#: ``raw["_bad"]`` of :func:`_read_csv_columns`: a good row, a wrong number of fields, a
#: value that runs over lines (record CSVs hold one record a line: a newline inside a value
#: is refused, so that a stray quote cannot swallow the rows after it).
_SHAPE_OK, _SHAPE_FIELDS, _SHAPE_NEWLINE = 0, 1, 2


def _read_csv_fast(path: Path, required: Sequence[str]) -> dict[str, pa.ChunkedArray] | None:
    """The columns of a CSV file (lower-cased header → string column) read by Arrow's
    multi-threaded CSV reader, or ``None`` when the file needs the exact reading: it
    cannot be parsed, a row has the wrong number of fields, a required column is
    missing, or it has no data row (the exact reading reports each case)."""
    try:
        with _open_text(path) as fh:
            first = ""
            while line := fh.readline(MAX_LINE_BYTES):
                if line.strip():
                    first = line
                    break
        names = next(csv.reader([first])) if first else []
    except (OSError, UnicodeDecodeError, EOFError, csv.Error, gzip.BadGzipFile, zlib.error):
        return None
    lowered = [n.strip().lower() for n in names]
    if not names or len(set(lowered)) != len(lowered) or _missing_columns(lowered, required):
        return None
    malformed = False

    def invalid_row(_row: Any) -> str:
        nonlocal malformed
        malformed = True
        return "skip"

    try:
        with _open_binary(path) as src:
            table = pacsv.read_csv(
                src,
                parse_options=pacsv.ParseOptions(
                    newlines_in_values=True, invalid_row_handler=invalid_row
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in names},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
    except (OSError, EOFError, zlib.error, pa.ArrowException):  # BadGzipFile is an OSError
        return None
    if malformed or table.num_rows == 0 or table.column_names != names:
        return None
    if not all(pa.types.is_string(t) for t in table.schema.types):
        return None
    if any(_matches(c, r"[\r\n]").any() for c in table.columns):
        return None  # the exact reading refuses the row (newline-in-value)
    return dict(zip(lowered, table.columns, strict=True))


def _flag(
    code: npt.NDArray[Any],
    msg: npt.NDArray[Any],
    mask: npt.NDArray[np.bool_],
    c: RowErrorCode,
    text: str | npt.NDArray[Any],
) -> None:
    """Record error ``c`` on rows in ``mask`` that have no error yet (first error wins)."""
    sel = np.asarray(mask, dtype=bool) & (code == "")
    code[sel] = str(c)
    msg[sel] = text if isinstance(text, str) else np.asarray(text, dtype=object)[sel]


def _collect(
    name: str, lines: Sequence[int], code: npt.NDArray[Any], msg: npt.NDArray[Any]
) -> list[RowError]:
    idx = np.flatnonzero(code != "")
    return [RowError(name, int(lines[int(i)]), RowErrorCode(code[i]), str(msg[i])) for i in idx]


def _coords_ok(lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        return np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180.0) & (np.abs(lat) <= 90.0)


def _normalise_phone(value: str) -> str:
    """One number as written → 11 digits when it had a ``+86``/``0086``/``86`` prefix,
    spaces or dashes (:func:`_normalise_phones` is the same on a column)."""
    v = re.sub(r"[\s-]", "", value)
    for prefix in ("+86", "0086", "86"):
        if v.startswith(prefix) and len(v) == 11 + len(prefix):
            return v[len(prefix) :]
    return v


#: Python's ``\s`` (Unicode whitespace) spelt out for RE2, plus the dash: what
#: :func:`_normalise_phone` removes.
_PHONE_NOISE_RE2: Final = (
    r"[\x{9}-\x{d}\x{1c}-\x{20}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}"
    r"\x{202f}\x{205f}\x{3000}-]"
)


def _normalise_phones(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """:func:`_normalise_phone` on a whole string column (nulls become ``""``)."""
    v = pc.replace_substring_regex(pc.fill_null(values, ""), _PHONE_NOISE_RE2, "")
    length = pc.utf8_length(v)
    out = v
    taken = pc.equal(length, -1)  # all false
    for prefix in ("+86", "0086", "86"):
        hit = pc.and_(
            pc.invert(taken),
            pc.and_(pc.starts_with(v, prefix), pc.equal(length, 11 + len(prefix))),
        )
        out = pc.if_else(hit, pc.utf8_slice_codeunits(v, len(prefix)), out)
        taken = pc.or_(taken, hit)
    return out


def _matches(values: pa.ChunkedArray, pattern: str) -> npt.NDArray[np.bool_]:
    """RE2 search of ``pattern`` in each value, as a numpy mask (null: no match)."""
    found = pc.match_substring_regex(values, pattern)
    return np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)


def _trimmed(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Strings with Unicode whitespace trimmed, nulls as ``""``."""
    return pc.utf8_trim_whitespace(pc.fill_null(values, ""))


#: The ISO-8601 shapes Arrow's parser reads exactly as pandas does (checked by a test);
#: any other shape, or a value Arrow refuses, goes through pandas.
_STRICT_TIME_RE: Final = (
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)$"
)


def _parse_times(
    text: pa.ChunkedArray, *, offset_required: bool
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """ISO-8601 strings → (epoch seconds, well-formed mask, has-offset mask).

    Without ``offset_required`` a time without offset is taken as UTC. Sub-seconds
    are dropped (floor). The common shapes are parsed by Arrow; anything else by
    pandas (``format="ISO8601"``), whose reading is the definition.
    """
    s = _trimmed(text)
    n = len(s)
    has_offset = _matches(s, _OFFSET_RE.pattern)
    shaped = _matches(s, _DATETIME_RE.pattern)
    as_utc = pc.if_else(pa.array(has_offset), s, pc.binary_join_element_wise(s, "Z", ""))
    epoch = np.zeros(n, dtype=np.int64)
    micro: npt.NDArray[np.int64] | None = None
    if n and _matches(as_utc, _STRICT_TIME_RE).all():
        try:
            stamps = pc.cast(as_utc, pa.timestamp("us", tz="UTC"))
            micro = np.asarray(stamps.cast(pa.int64()).to_numpy(zero_copy_only=False))
            well_formed = np.ones(n, dtype=bool)
        except pa.ArrowException:
            micro = None
    if micro is None:
        series = pd.Series(as_utc.to_pandas(), dtype="string")
        dt = pd.to_datetime(
            series.where(pd.Series(shaped, index=series.index)),
            format="ISO8601",
            utc=True,
            errors="coerce",
        )
        well_formed = shaped & ~dt.isna().to_numpy(dtype=bool)
        micro = np.zeros(n, dtype=np.int64)
        if well_formed.any():
            micro[well_formed] = dt[well_formed].dt.as_unit("us").astype("int64").to_numpy()
    epoch[well_formed] = np.floor_divide(micro[well_formed], 1_000_000)
    if not offset_required:
        has_offset = np.ones(n, dtype=bool)
    return epoch, well_formed, has_offset


#: A finite decimal number as Python and pandas read one (after trimming).
_NUMBER_RE: Final = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


@dataclass(frozen=True)
class _Degrees:
    """A lon or lat column: values (NaN where absent or not a number) and which rows gave
    no value at all (empty text, null, NaN in a numeric column)."""

    values: npt.NDArray[np.float64]
    empty: npt.NDArray[np.bool_]

    @classmethod
    def absent(cls, n: int) -> _Degrees:
        return cls(np.full(n, np.nan), np.ones(n, dtype=bool))

    @classmethod
    def of(cls, column: pa.ChunkedArray) -> _Degrees:
        """From text (trimmed; a non-number is NaN) or from a numeric column."""
        if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
            values = np.asarray(
                pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
            )
            return cls(values, np.isnan(values))  # a null came as NaN: no value either
        text = _trimmed(_as_text(column))
        empty = np.asarray(pc.equal(text, "").to_numpy(zero_copy_only=False), dtype=bool)
        number = pa.array(_matches(text, _NUMBER_RE))
        parsed = pc.cast(pc.if_else(number, text, "nan"), pa.float64())
        return cls(np.asarray(parsed.to_numpy(zero_copy_only=False), dtype=np.float64), empty)


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A column as strings: strings as they are, integers in decimal, anything else as
    pandas writes it (the reading of earlier versions)."""
    t = column.type
    if pa.types.is_dictionary(t):
        column = column.cast(t.value_type)
        t = column.type
    if pa.types.is_string(t):
        return column
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        try:  # bytes as text only when they are UTF-8
            return column.cast(pa.binary()).cast(pa.string())
        except pa.ArrowInvalid as exc:
            raise _NotUtf8Column from exc
    if pa.types.is_large_string(t) or pa.types.is_string_view(t) or pa.types.is_integer(t):
        return column.cast(pa.string())
    as_pandas = pd.Series(column.to_pandas()).astype("string")
    return pa.chunked_array(
        [pa.array(as_pandas.to_numpy(dtype=object, na_value=None), pa.string())]
    )


#: Record times must lie in [1900-01-01, 3000-01-01) UTC, epoch seconds: the years
#: ``--as-of`` accepts (other instants break date arithmetic further on).
EPOCH_MIN: Final = -2_208_988_800
EPOCH_END: Final = 32_503_680_000


def _epoch_in_range(epoch: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    return np.asarray((epoch >= EPOCH_MIN) & (epoch < EPOCH_END), dtype=bool)


class _NotUtf8Column(Exception):
    """A Parquet binary column whose bytes are not UTF-8 text."""


@dataclass(frozen=True)
class _Checked:
    """What :func:`_validate` found: the good rows, and the bad ones by position."""

    table: pa.Table  #: the good rows (:data:`RECORD_SCHEMA`)
    bad: npt.NDArray[np.intp]  #: positions (0-based, ascending) of every bad row
    listed: list[tuple[int, RowErrorCode, str]]  #: (position, code, message), first few

    def errors(self, name: str, line_of: Callable[[int], int]) -> list[RowError]:
        return [RowError(name, line_of(i), code, msg) for i, code, msg in self.listed]


#: Per-row checks in the order they are made: a row gets the first that fails.
_ROW_CHECKS: Final = (
    (
        RowErrorCode.NEWLINE_IN_VALUE,
        "a quoted value runs over more than one line (a newline inside quotes, or a quote "
        "that is not closed): one record a line",
    ),
    (RowErrorCode.MALFORMED_ROW, "wrong number of fields"),
    (RowErrorCode.INVALID_PHONE, "phone is not a mainland mobile number (11 digits, 1[3-9]…)"),
    (RowErrorCode.INVALID_TIME, "time is not ISO-8601 (YYYY-MM-DDTHH:MM[:SS]±HH:MM)"),
    (RowErrorCode.TIME_WITHOUT_OFFSET, "time has no UTC offset (add Z or ±HH:MM)"),
    (RowErrorCode.TIME_OUT_OF_RANGE, "time is not in the years 1900-2999 (UTC)"),
    (RowErrorCode.MISSING_LOCATION, "neither lon/lat nor cell_id"),
    (
        RowErrorCode.INVALID_COORDINATES,
        "lon must be a number in [-180, 180] and lat in [-90, 90]",
    ),
    (RowErrorCode.CELL_SITES_REQUIRED, "cell_id given but no cell-site table"),
    (RowErrorCode.UNKNOWN_CELL_ID, "not in the cell-site table"),
)


def _validate(
    n: int,
    phone_raw: pa.ChunkedArray,
    time_raw: pa.ChunkedArray | None,
    lon: _Degrees,
    lat: _Degrees,
    cell_raw: pa.ChunkedArray | None,
    cell_sites: CellSites | None,
    bad_shape: npt.NDArray[Any] | None,
    *,
    max_errors: int,
    epoch_given: npt.NDArray[np.int64] | None = None,
    offset_required: bool = True,
) -> _Checked:
    """Check every row on whole columns; a row gets the first failing check of
    :data:`_ROW_CHECKS`. ``time_raw`` is None when ``epoch_given`` holds the times."""
    err = np.zeros(n, dtype=np.int8)  # 0: good, k: _ROW_CHECKS[k - 1]

    def flag(mask: npt.NDArray[np.bool_], code: RowErrorCode) -> None:
        k = next(i for i, (c, _) in enumerate(_ROW_CHECKS, start=1) if c is code)
        err[mask & (err == 0)] = k

    if bad_shape is not None:
        flag(bad_shape == _SHAPE_NEWLINE, RowErrorCode.NEWLINE_IN_VALUE)
        flag(bad_shape != _SHAPE_OK, RowErrorCode.MALFORMED_ROW)
    phone = _as_text(phone_raw)
    phone_ok = _matches(phone, f"^{_PHONE_RE}$")
    if not phone_ok.all():  # some numbers are written with a prefix, spaces…, or are bad
        phone = _normalise_phones(phone)
        phone_ok = _matches(phone, f"^{_PHONE_RE}$")
    flag(~phone_ok, RowErrorCode.INVALID_PHONE)
    if epoch_given is not None:
        epoch = epoch_given
        flag(~_epoch_in_range(epoch), RowErrorCode.TIME_OUT_OF_RANGE)
    else:
        assert time_raw is not None  # noqa: S101 - one of the two is given
        epoch, well_formed, has_offset = _parse_times(
            _as_text(time_raw), offset_required=offset_required
        )
        flag(~well_formed, RowErrorCode.INVALID_TIME)
        if offset_required:
            flag(~has_offset, RowErrorCode.TIME_WITHOUT_OFFSET)
        flag(~_epoch_in_range(epoch), RowErrorCode.TIME_OUT_OF_RANGE)

    cell_t = _trimmed(_as_text(cell_raw)) if cell_raw is not None else None
    has_point = ~(lon.empty & lat.empty)
    has_cell = (
        np.asarray(pc.not_equal(cell_t, "").to_numpy(zero_copy_only=False), dtype=bool)
        if cell_t is not None
        else np.zeros(n, dtype=bool)
    )
    lon_v, lat_v = lon.values.copy(), lat.values.copy()
    flag(~has_point & ~has_cell, RowErrorCode.MISSING_LOCATION)
    flag(has_point & ~_coords_ok(lon_v, lat_v), RowErrorCode.INVALID_COORDINATES)
    use_cell = has_cell & ~has_point
    if use_cell.any():
        assert cell_t is not None  # noqa: S101 - has_cell
        if cell_sites is None:
            flag(use_cell, RowErrorCode.CELL_SITES_REQUIRED)
        else:
            sites = cell_sites.table
            pos = pc.index_in(cell_t, value_set=sites.column("cell_id"))
            pos_np = np.asarray(pc.fill_null(pos, -1).to_numpy(zero_copy_only=False))
            flag(use_cell & (pos_np < 0), RowErrorCode.UNKNOWN_CELL_ID)
            take = use_cell & (pos_np >= 0)
            lon_v[take] = np.asarray(sites.column("lon").to_numpy())[pos_np[take]]
            lat_v[take] = np.asarray(sites.column("lat").to_numpy())[pos_np[take]]
    bad = np.flatnonzero(err)
    listed: list[tuple[int, RowErrorCode, str]] = []
    for i in bad[:max_errors]:
        code, msg = _ROW_CHECKS[err[i] - 1]
        if code is RowErrorCode.UNKNOWN_CELL_ID:
            assert cell_t is not None  # noqa: S101 - use_cell
            msg = f"cell_id {cell_t[int(i)].as_py()} {msg}"
        listed.append((int(i), code, msg))
    cells = (
        pc.if_else(pa.array(has_cell), cell_t, pa.scalar(None, pa.string()))
        if cell_t is not None
        else pa.nulls(n, pa.string())
    )
    columns = {"phone": phone, "epoch_s": epoch, "lon": lon_v, "lat": lat_v, "cell_id": cells}
    if bad.size:  # keep the good rows only
        good = err == 0
        mask = pa.array(good)
        columns = {
            "phone": pc.filter(phone, mask), "epoch_s": epoch[good], "lon": lon_v[good],
            "lat": lat_v[good], "cell_id": pc.filter(cells, mask),
        }  # fmt: skip
    table = pa.table(
        {
            name: columns[name] if name in ("phone", "cell_id") else pa.array(columns[name])
            for name in RECORD_SCHEMA.names
        },
    ).cast(RECORD_SCHEMA)
    return _Checked(table, bad, listed)


@dataclass(frozen=True)
class _Read:
    """One file read: its good rows, its first errors, how many errors and data rows."""

    table: pa.Table
    errors: list[RowError]
    error_count: int
    rows: int


class _FileRefused(Exception):
    """A whole file is refused (unreadable, empty, a header without the required columns);
    :func:`inspect_records` reports :attr:`error` and reads the other files."""

    def __init__(self, name: str, code: RowErrorCode, message: str, *, line: int = 0,
                 rows: int = 0) -> None:  # fmt: skip
        super().__init__(message)
        self.error = RowError(name, line, code, message)
        self.rows = rows  #: data rows the file has (counted in the report)


_LOCATION: Final = "lon+lat or cell_id"


def _refuse_duplicate_columns(name: str, header: Sequence[str], *, line: int) -> None:
    """:raises _FileRefused: ``duplicate-column`` when two columns have one name (trimmed,
    case ignored): which of them is meant cannot be told."""
    seen: dict[str, str] = {}
    twice: list[str] = []
    for h in header:
        key = h.strip().lower()
        if key in seen:
            twice.append(f"{seen[key]!r} and {h!r}")
        else:
            seen[key] = h
    if twice:
        raise _FileRefused(
            name, RowErrorCode.DUPLICATE_COLUMN,
            f"the header names a column twice ({'; '.join(twice)}; case is ignored): "
            "keep one of them",
            line=line,
        )  # fmt: skip


def _missing_columns(names: Collection[str], required: Sequence[str]) -> list[str]:
    """Required columns absent from ``names`` (lower-cased); ``_LOCATION`` asks for
    ``lon`` and ``lat``, or ``cell_id``."""
    missing = [c for c in required if c != _LOCATION and c not in names]
    if _LOCATION in required and not ({"lon", "lat"} <= set(names) or "cell_id" in names):
        missing.append(_LOCATION)
    return missing


def _read_csv_file(
    path: Path, required: Sequence[str]
) -> tuple[dict[str, pa.ChunkedArray], list[int], npt.NDArray[Any]]:
    """A CSV record file read exactly, line by line: its columns (lower-cased name →
    strings), the physical line of each data row, and which rows have the wrong number
    of fields.

    :raises _FileRefused: unreadable (``unreadable-file``), no data rows (``empty-file``),
        or a header without the ``required`` columns (``missing-column``, line 1).
    """
    name = str(path)
    try:
        header, lines, raw = _read_csv_columns(path)
    except (OSError, UnicodeDecodeError, EOFError, csv.Error, gzip.BadGzipFile, zlib.error) as exc:
        raise _refusal(name, exc) from exc
    if header is None or not lines:
        raise _FileRefused(name, RowErrorCode.EMPTY_FILE, "no records")
    _refuse_duplicate_columns(name, header, line=1)
    cols = {h.strip().lower(): i for i, h in enumerate(header)}
    missing = _missing_columns(cols.keys(), required)
    if missing:
        raise _FileRefused(
            name, RowErrorCode.MISSING_COLUMN, f"missing column(s) {missing}", line=1,
            rows=len(lines),
        )  # fmt: skip
    columns = {k: pa.chunked_array([pa.array(raw[i], pa.string())]) for k, i in cols.items()}
    return columns, lines, raw["_bad"]


def _read_csv_layout(
    path: Path,
    required: Sequence[str],
    check: Callable[[dict[str, pa.ChunkedArray], npt.NDArray[Any] | None], _Checked],
) -> _Read:
    """Read a CSV layout fast (Arrow) and check it; a file with any bad row (or that Arrow
    cannot read cleanly) is read again exactly, line by line, so that every reported
    line number is the physical line of the row."""
    fast = _read_csv_fast(path, required)
    if fast is not None:
        checked = check(fast, None)
        if checked.bad.size == 0:
            n = checked.table.num_rows
            return _Read(checked.table, [], 0, n)
    columns, lines, bad_shape = _read_csv_file(path, required)
    checked = check(columns, bad_shape)
    return _Read(
        checked.table, checked.errors(str(path), lines.__getitem__), len(checked.bad), len(lines)
    )


def _read_csv(path: Path, cell_sites: CellSites | None, max_errors: int) -> _Read:
    def check(cols: dict[str, pa.ChunkedArray], bad_shape: npt.NDArray[Any] | None) -> _Checked:
        n = len(cols["phone"])
        return _validate(
            n, cols["phone"], cols["time"],
            _Degrees.of(cols["lon"]) if "lon" in cols else _Degrees.absent(n),
            _Degrees.of(cols["lat"]) if "lat" in cols else _Degrees.absent(n),
            cols.get("cell_id"), cell_sites, bad_shape, max_errors=max_errors,
        )  # fmt: skip

    return _read_csv_layout(path, ("phone", "time", _LOCATION), check)


def _read_parquet(path: Path, cell_sites: CellSites | None, max_errors: int) -> _Read:
    name = str(path)
    try:
        src = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise _FileRefused(
            name, RowErrorCode.UNREADABLE, f"not a readable Parquet file: {exc}"
        ) from exc
    n = src.num_rows
    if n == 0:
        raise _FileRefused(name, RowErrorCode.EMPTY_FILE, "no records")
    _refuse_duplicate_columns(name, src.column_names, line=0)
    cols = {c.strip().lower(): c for c in src.column_names}
    missing = _missing_columns(cols.keys(), ("phone", "time", _LOCATION))
    if missing:
        raise _FileRefused(
            name, RowErrorCode.MISSING_COLUMN, f"missing column(s) {missing}", rows=n
        )

    def col(key: str) -> pa.ChunkedArray | None:
        return src.column(cols[key]) if key in cols else None

    time_col = src.column(cols["time"])
    epoch_given = None
    if pa.types.is_timestamp(time_col.type):
        if time_col.type.tz is None:
            errs = [
                RowError(
                    name,
                    0,
                    RowErrorCode.TIME_WITHOUT_OFFSET,
                    "time column is a timestamp without time zone",
                )
            ]
            return _Read(RECORD_SCHEMA.empty_table(), errs, 1, n)
        nulls = np.asarray(time_col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        if nulls.any():
            where = np.flatnonzero(nulls)
            errs = [
                RowError(name, int(i) + 1, RowErrorCode.INVALID_TIME, "time is null")
                for i in where[:max_errors]
            ]
            return _Read(RECORD_SCHEMA.empty_table(), errs, len(where), n)
        ticks = np.asarray(time_col.cast(pa.int64()).to_numpy(zero_copy_only=False))
        per_second = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
        epoch_given = np.floor_divide(ticks, per_second[time_col.type.unit]).astype(np.int64)
    phone = col("phone")
    assert phone is not None  # noqa: S101 - checked above
    lon, lat = col("lon"), col("lat")
    try:
        checked = _validate(
        n, phone, None if epoch_given is not None else time_col,
        _Degrees.of(lon) if lon is not None else _Degrees.absent(n),
        _Degrees.of(lat) if lat is not None else _Degrees.absent(n),
            col("cell_id"), cell_sites, None, max_errors=max_errors, epoch_given=epoch_given,
        )  # fmt: skip
    except _NotUtf8Column as exc:
        raise _FileRefused(
            name,
            RowErrorCode.NOT_UTF8,
            "a binary column (phone, time or cell_id) holds bytes that are not UTF-8 text",
            rows=n,
        ) from exc
    return _Read(checked.table, checked.errors(name, lambda i: i + 1), len(checked.bad), n)


def _read_geolife_points(path: Path, pmap: GeolifePhoneMap, max_errors: int) -> _Read:
    def check(cols: dict[str, pa.ChunkedArray], bad_shape: npt.NDArray[Any] | None) -> _Checked:
        subset = _trimmed(cols["subset"])
        user = _trimmed(cols["user"])
        pairs = pc.binary_join_element_wise(subset, user, "\x00")
        distinct = pc.unique(pairs)
        phones: list[str] = []
        for pair in distinct.to_pylist():
            s, _, u = pair.partition("\x00")
            try:
                phones.append(pmap.phone_for(s, u))
            except ValueError:
                phones.append("")  # → invalid-phone row errors
        phone = pc.take(pa.array(phones, pa.string()), pc.index_in(pairs, value_set=distinct))
        return _validate(
            len(pairs), pa.chunked_array([phone]) if isinstance(phone, pa.Array) else phone,
            cols["time_utc"], _Degrees.of(cols["lon"]), _Degrees.of(cols["lat"]), None, None,
            bad_shape, max_errors=max_errors,
            offset_required=False,  # GeoLife times are UTC by format
        )  # fmt: skip

    return _read_csv_layout(path, ("subset", "user", "lat", "lon", "time_utc"), check)


def _read_plt(path: Path, phone: str, max_errors: int) -> _Read:
    name = str(path)
    lines: list[int] = []
    lat: list[str] = []
    lon: list[str] = []
    when: list[str] = []
    bad: list[bool] = []
    try:
        with _open_text(path) as fh:
            for number, line in enumerate(fh, start=1):
                if number <= 6 or not line.strip():
                    continue  # 6 header lines
                parts = line.strip().split(",")
                lines.append(number)
                ok = len(parts) == 7
                bad.append(not ok)
                parts = (parts + [""] * 7)[:7]
                lat.append(parts[0])
                lon.append(parts[1])
                when.append(f"{parts[5].strip()}T{parts[6].strip()}")
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise _refusal(name, exc) from exc
    if not lines:
        raise _FileRefused(name, RowErrorCode.EMPTY_FILE, "no track points")
    n = len(lines)

    def text(values: list[str]) -> pa.ChunkedArray:
        return pa.chunked_array([pa.array(values, pa.string())])

    checked = _validate(
        n, text([phone] * n), text(when), _Degrees.of(text(lon)), _Degrees.of(text(lat)), None,
        None, np.array(bad, dtype=bool), max_errors=max_errors,
        offset_required=False,  # GeoLife .plt times are GMT by format
    )  # fmt: skip
    return _Read(checked.table, checked.errors(name, lines.__getitem__), len(checked.bad), n)


SECONDS_PER_DAY: Final = 86_400


def shift_records(records: pa.Table, days: int) -> pa.Table:
    """The same records moved in time by a whole number of days (places and phones kept).

    Used to bring the 2007-2011 GeoLife traces into the period of the 2022 risk lists, so
    that their cards get stars (docs/trip-card.md: user 010 by 5,392 days).

    :param records: a :data:`RECORD_SCHEMA` table.
    :param days: whole days, negative to move back; the Asia/Shanghai time of day of every
        record is unchanged (China has had no daylight saving time since 1991).
    :returns: a :data:`RECORD_SCHEMA` table, ``epoch_s`` + ``days`` × 86,400.
    """
    shifted = pc.add(records.column("epoch_s"), pa.scalar(days * SECONDS_PER_DAY, pa.int64()))
    return records.set_column(records.schema.get_field_index("epoch_s"), "epoch_s", shifted)


def write_records(records: pa.Table, path: str | Path) -> int:
    """Write records as a file that every reader takes back, chosen by the extension.

    * ``.csv`` / ``.csv.gz``: ``phone,time,lon,lat,cell_id`` with ``time`` ISO-8601 in UTC
      (``2022-05-09T03:30:32Z``), an empty ``cell_id`` when there is none;
    * ``.parquet``: the same columns, ``time`` a ``timestamp[s, UTC]``.

    :param records: a :data:`RECORD_SCHEMA` table (written in its order).
    :returns: rows written.
    :raises ValueError: another extension.
    """
    p = Path(path)
    name = p.name.lower()
    when = records.column("epoch_s").cast(pa.timestamp("s", tz="UTC"))
    columns = {
        "phone": records.column("phone"),
        "lon": records.column("lon"),
        "lat": records.column("lat"),
        "cell_id": records.column("cell_id"),
    }
    if name.endswith((".parquet", ".pq")):
        pq.write_table(pa.table({"time": when, **columns}).select(_OUT_COLUMNS), p)
        return int(records.num_rows)
    if not name.endswith((".csv", ".csv.gz")):
        raise ValueError(f"{p}: write records to a .csv, .csv.gz or .parquet file")
    text = pc.strftime(when, format="%Y-%m-%dT%H:%M:%SZ")
    table = pa.table({"time": text, **columns}).select(_OUT_COLUMNS)
    cells = pc.fill_null(records.column("cell_id"), "")
    plain = not pc.any(pc.match_substring_regex(cells, r'[,"\r\n]')).as_py()
    options = pacsv.WriteOptions(include_header=False, quoting_style="none" if plain else "needed")
    with (
        pa.CompressedOutputStream(str(p), "gzip")
        if name.endswith(".gz")
        else pa.OSFile(str(p), "wb") as out
    ):
        out.write((",".join(_OUT_COLUMNS) + "\n").encode())
        pacsv.write_csv(table, out, options)
    return int(records.num_rows)


_OUT_COLUMNS: Final = ["phone", "time", "lon", "lat", "cell_id"]


def record_span(records: pa.Table) -> tuple[datetime, datetime] | None:
    """First and last record instants (aware UTC) of a record table, or ``None`` when empty.

    Lets a caller tell "no records in the window" from "query date outside the data".
    """
    if records.num_rows == 0:
        return None
    lo, hi = pc.min_max(records.column("epoch_s")).values()
    return (
        datetime.fromtimestamp(int(lo.as_py()), UTC),
        datetime.fromtimestamp(int(hi.as_py()), UTC),
    )

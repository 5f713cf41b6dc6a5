"""Errors of the trip-card domain, as subclasses of the project's one tree.

Tree (codes are stable; HTTP statuses come from the parent classes)::

    ImportRejected                (import-rejected, 422)
    └── RecordsRejected           (trip-records-rejected)   details: the per-row report
        └── OptionFileRejected    (trip-option-file-rejected) --cell-sites / --phone-map (exit 2)
            ├── CellSitesRejected (trip-cell-sites-rejected)
            └── PhoneMapRejected  (trip-phone-map-rejected)
    InputError                    (invalid-input, 422)
    ├── UnknownRecordFormat       (trip-format-unknown)
    ├── FormatMismatch            (trip-format-mismatch)    file content ≠ --format / its name
    └── ServiceEnded              (trip-service-ended)      no policy in force on the date
    ConfigError                   (config-invalid, 500)
    ├── EngineUnavailable         (trip-engine-unavailable) pyspark / Java missing
    └── PolicyDataInvalid         (trip-policy-invalid)     policies.json malformed
    MissingSharedFile             (shared-file-missing)     polygons / names not found

Per-row problems inside a file are not exceptions but :class:`RowError` values
with a :class:`RowErrorCode` (see :mod:`healthcode.trips.readers`).
"""

from __future__ import annotations

from enum import StrEnum

from healthcode.errors import ConfigError, ImportRejected, InputError


class RowErrorCode(StrEnum):
    """Stable codes of the problems a reader reports per row or per file."""

    EMPTY_FILE = "empty-file"  #: a file with no data rows
    UNREADABLE = "unreadable-file"  #: not a file of the detected format (or I/O error)
    MISSING_COLUMN = "missing-column"  #: the header lacks a required column
    MALFORMED_ROW = "malformed-row"  #: wrong number of fields
    INVALID_PHONE = "invalid-phone"  #: not a mainland mobile number (1[3-9] + 9 digits)
    INVALID_TIME = "invalid-time"  #: not an ISO-8601 date-time
    TIME_WITHOUT_OFFSET = "time-without-offset"  #: ISO-8601 but no UTC offset / ``Z``
    TIME_OUT_OF_RANGE = "time-out-of-range"  #: before 1900-01-01 or from 3000-01-01 (UTC)
    INVALID_COORDINATES = (
        "invalid-coordinates"  #: not a number, or lon ∉ [-180, 180], lat ∉ [-90, 90]
    )
    MISSING_LOCATION = "missing-location"  #: neither lon/lat nor cell_id
    UNKNOWN_CELL_ID = "unknown-cell-id"  #: cell_id not in the cell-site table
    CELL_SITES_REQUIRED = "cell-sites-required"  #: cell_id records but no cell-site table given
    DUPLICATE_CELL_ID = "duplicate-cell-id"  #: a cell-site table lists one id twice
    FORMAT_MISMATCH = "format-mismatch"  #: the file's magic/header is another format's
    NEWLINE_IN_VALUE = "newline-in-value"  #: a quoted value runs over lines (or a quote not closed)
    DUPLICATE_COLUMN = "duplicate-column"  #: the header names a column twice (case ignored)
    NOT_UTF8 = "not-utf8"  #: a text file that is not UTF-8 (GBK, Latin-1, UTF-16…)
    FILE_TOO_LARGE = "file-too-large"  #: a gzip file that unpacks to more than 2 GiB
    LINE_TOO_LONG = "line-too-long"  #: a line of more than 64 KiB, or over 1,000,000 blank lines
    DUPLICATE_USER = "duplicate-user"  #: a phone map lists one (subset, user) twice
    PHONE_CONFLICT = "phone-conflict"  #: a phone map gives two users one number
    INVALID_USER = "invalid-user"  #: a phone map's user is not a 1-3 digit GeoLife id


#: File-level codes that make the CLI exit 2 (the file cannot be used as given) rather than 1.
UNUSABLE_FILE_CODES = frozenset(
    {
        RowErrorCode.UNREADABLE,
        RowErrorCode.DUPLICATE_COLUMN,
        RowErrorCode.NOT_UTF8,
        RowErrorCode.FILE_TOO_LARGE,
        RowErrorCode.LINE_TOO_LONG,
    }
)


class RecordsRejected(ImportRejected):
    """Location records with bad rows; nothing was read (all-or-nothing).

    ``details`` is ``{"error_count": int, "errors": [{"file", "line", "code", "message"}, …]}``
    (at most the first ``max_errors`` rows are listed; ``error_count`` counts all).
    """

    code = "trip-records-rejected"


class OptionFileRejected(RecordsRejected):
    """A file given as an option (``--cell-sites``, ``--phone-map``) that cannot be used:
    unreadable, not UTF-8, empty, or with bad or conflicting rows. Nothing was read; the
    CLI exits 2 (a bad option, not bad records). ``details`` as :class:`RecordsRejected`."""

    code = "trip-option-file-rejected"


class CellSitesRejected(OptionFileRejected):
    """The cell-site table (``--cell-sites``) cannot be used."""

    code = "trip-cell-sites-rejected"


class PhoneMapRejected(OptionFileRejected):
    """The GeoLife phone map (``--phone-map``) cannot be used."""

    code = "trip-phone-map-rejected"


class UnknownRecordFormat(InputError):
    """A record file whose format cannot be detected from its extension or header."""

    code = "trip-format-unknown"


class FormatMismatch(InputError):
    """A record file whose content (magic bytes, header) is not the format it was given as —
    by ``--format`` or by its extension (``.parquet``, ``.pq``, ``.plt``, ``.csv``). The whole input is
    refused before any row is read; a usage error (the CLI exits 2).

    ``details`` is ``{"error_count": int, "errors": [{"file", "line": 0, "code":
    "format-mismatch", "message"}, …]}``, one entry per mismatched file.
    """

    code = "trip-format-mismatch"


class ServiceEnded(InputError):
    """No trip-card policy is in force on the requested date (the service ended 2022-12-13)."""

    code = "trip-service-ended"


class EngineUnavailable(ConfigError):
    """The requested engine cannot run here (e.g. pyspark or Java is not installed)."""

    code = "trip-engine-unavailable"


class PolicyDataInvalid(ConfigError):
    """The versioned policy data file is malformed."""

    code = "trip-policy-invalid"

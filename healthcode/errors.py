"""One exception tree for the whole project, with stable kebab-case codes.

Every error a user can meet carries a ``code`` that never changes between
releases (scripts and the web client match on it), a human ``message``, and an
HTTP ``status`` used by the single mapping in :mod:`healthcode.web.errors`.
The CLI maps ``status`` to exit codes: 4xx usage errors → 2 where the input
could not be read at all, everything else → 1.

Tree::

    HealthCodeError                 (internal-error, 500)
    ├── InputError                  (invalid-input, 422)   bad user data
    │   ├── InvalidIdNumber         (invalid-id-number)
    │   ├── InvalidPhone            (invalid-phone)
    │   ├── InvalidRegion           (invalid-region)
    │   ├── InvalidName             (invalid-name)
    │   ├── InvalidDate             (invalid-date)
    │   └── ImportRejected          (import-rejected)      carries a per-row report
    ├── NotFound                    (not-found, 404)
    ├── AuthError                   (unauthorised, 401)
    │   └── OtpInvalid              (otp-invalid)
    ├── RateLimited                 (rate-limited, 429)
    ├── PayloadTooLarge             (payload-too-large, 413)
    ├── FileUnreadable              (file-unreadable, 400)  a named file cannot be read/written
    ├── ConfigError                 (config-invalid, 500)
    │   └── MissingSharedFile       (shared-file-missing)
    └── CredentialError             (credential-invalid, 422)  see credentials.errors
"""

from __future__ import annotations

from typing import Any, ClassVar


class HealthCodeError(Exception):
    """Base of every error raised on purpose by healthcode.

    :param message: human-readable text (English; the UI translates by ``code``).
    :param details: optional JSON-serialisable extra data (e.g. a per-row report).
    """

    code: ClassVar[str] = "internal-error"
    status: ClassVar[int] = 500

    def __init__(self, message: str = "", *, details: Any = None) -> None:
        super().__init__(message or self.code)
        self.message = message or self.code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The one JSON error shape: ``{"ok": false, "status", "code", "message"[, "details"]}``."""
        body: dict[str, Any] = {
            "ok": False,
            "status": self.status,
            "code": self.code,
            "message": self.message,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


class InputError(HealthCodeError):
    code = "invalid-input"
    status = 422


class InvalidIdNumber(InputError):
    code = "invalid-id-number"


class InvalidPhone(InputError):
    code = "invalid-phone"


class InvalidRegion(InputError):
    code = "invalid-region"


class InvalidName(InputError):
    code = "invalid-name"


class InvalidDate(InputError):
    code = "invalid-date"


class ImportRejected(InputError):
    """An all-or-nothing import found bad rows; ``details`` holds the per-row report."""

    code = "import-rejected"


class NotFound(HealthCodeError):
    code = "not-found"
    status = 404


class AuthError(HealthCodeError):
    code = "unauthorised"
    status = 401


class OtpInvalid(AuthError):
    code = "otp-invalid"


class RateLimited(HealthCodeError):
    code = "rate-limited"
    status = 429


class PayloadTooLarge(HealthCodeError):
    code = "payload-too-large"
    status = 413


class ConfigError(HealthCodeError):
    code = "config-invalid"
    status = 500


class FileUnreadable(HealthCodeError):
    """A file named on the command line cannot be read or written (exit 2)."""

    code = "file-unreadable"
    status = 400


class MissingSharedFile(ConfigError):
    """A reference-data file under ``HEALTHCODE_SHARED`` is missing."""

    code = "shared-file-missing"
    status = 400


class Conflict(HealthCodeError):
    code = "conflict"
    status = 409


class HolderExists(Conflict):
    code = "holder-exists"


class TrustListInvalid(HealthCodeError):
    """A trust list whose signature, anchor or validity does not check out."""

    code = "trust-list-invalid"
    status = 422

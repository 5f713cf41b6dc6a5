"""Errors of the e-certificate service (codes are stable; see :mod:`healthcode.errors`)."""

from __future__ import annotations

from healthcode.errors import InputError, NotFound


class NoRecords(NotFound):
    """The holder has no record of the kind asked for (no vaccination, no test)."""

    code = "no-records"


class CertificateOptionInvalid(InputError):
    """An unknown certificate kind or format."""

    code = "certificate-option-invalid"

"""Errors of the e-certificate service (codes are stable; see :mod:`healthcode.errors`)."""

from __future__ import annotations

from healthcode.errors import Conflict, InputError, NotFound


class NoRecords(NotFound):
    """The holder has no record of the kind asked for (no vaccination, no test)."""

    code = "no-records"


class CertificateOptionInvalid(InputError):
    """An unknown certificate kind or format."""

    code = "certificate-option-invalid"


class CertificateIdInvalid(InputError):
    """Not one of our certificate IDs or UVCIs, or a UVCI whose check character does not
    match (a typing error). A usage error: status 400, exit code 2."""

    code = "certificate-id-invalid"
    status = 400


class RevocationReasonInvalid(InputError):
    """An empty revocation reason, or one over 200 characters (usage error, exit code 2)."""

    code = "revocation-reason-invalid"
    status = 400


class CertificateNotFound(NotFound):
    """No e-certificate of ours with that ID or UVCI."""

    code = "certificate-not-found"


class CertificateAlreadyRevoked(Conflict):
    """The e-certificate was revoked before (its first reason and time stay)."""

    code = "certificate-already-revoked"


class CertificateNotCurrent(Conflict):
    """The e-certificate cannot be shown again: revoked, expired (or within a day of it),
    superseded by a newer one, its records or personal data changed since, or its key
    was rotated. Its content is not kept, so a new one has to be issued."""

    code = "certificate-not-current"

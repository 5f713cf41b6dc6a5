"""Audit event tags, ``source:subject:action`` style (one enum, stable strings)."""

from enum import StrEnum


class AuditTag(StrEnum):
    HOLDER_ENROL = "holder:enrol"
    HOLDER_READ = "holder:read"  # any read of a holder's personal data
    HOLDER_BATCH_READ = "holder:batch-read"  # one entry per batch of a bulk job
    HOLDER_SIGN_IN = "holder:sign-in"
    STATUS_CHANGE = "status:change"
    CREDENTIAL_ISSUE = "credential:issue"
    CREDENTIAL_VERIFY = "credential:verify"
    CREDENTIAL_REVOKE = "credential:revoke"  # one e-certificate revoked (its ID, never its payload)
    FACTS_IMPORT = "facts:import"
    RISK_AREAS_IMPORT = "risk-areas:import"
    KEY_CREATE = "key:create"
    KEY_ROTATE = "key:rotate"
    KEY_REVOKE = "key:revoke"
    TRUST_EXPORT = "trust:export"
    DEMO_LOAD = "demo:load"
    TRIP_IMPORT = "trip:import"  # location records stored (counts only)
    TRIP_BUILD = "trip:build"  # trip cards computed and stored (counts only)
    TRIP_READ = "trip:read"  # one trip card looked up (subject: the phone's blind index)
    RETENTION_SWEEP = "retention:sweep"  # expired records deleted (counts per kind)

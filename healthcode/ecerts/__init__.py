"""E-certificates (电子证照): a holder's vaccination and test records as an EU DCC (``HC1:``)
or a SMART Health Card (``shc:/``), signed with their region's e-certificate keys.

- :mod:`.mapping` — records → DCC payload / FHIR bundle, names, codes, UVCIs (pure)
- :mod:`.pki` — the regions' CSCA and document signer certificates (pure)
- :mod:`.revocation` — ``rid``, UCI hashes, CRLs and the trust list's revocations (pure)
- :mod:`.pdf` — the printable certificate (pure but for reading a font file)
- :mod:`.service` — issuing, recording, revoking, inside a unit of work (keys, audit)
"""

from healthcode.ecerts.errors import (
    CertificateAlreadyRevoked,
    CertificateIdInvalid,
    CertificateNotCurrent,
    CertificateNotFound,
    CertificateOptionInvalid,
    NoRecords,
    RevocationReasonInvalid,
)

__all__ = [
    "CertificateAlreadyRevoked",
    "CertificateIdInvalid",
    "CertificateNotCurrent",
    "CertificateNotFound",
    "CertificateOptionInvalid",
    "NoRecords",
    "RevocationReasonInvalid",
]

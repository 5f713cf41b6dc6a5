"""E-certificates (电子证照): a holder's vaccination and test records as an EU DCC (``HC1:``)
or a SMART Health Card (``shc:/``), signed with their region's e-certificate keys.

- :mod:`.mapping` — records → DCC payload / FHIR bundle, names, codes (pure)
- :mod:`.pki` — the regions' CSCA and document signer certificates (pure)
- :mod:`.pdf` — the printable certificate (pure)
- :mod:`.service` — issuing, inside a unit of work (keys, audit)
"""

from healthcode.ecerts.errors import CertificateOptionInvalid, NoRecords

__all__ = ["CertificateOptionInvalid", "NoRecords"]

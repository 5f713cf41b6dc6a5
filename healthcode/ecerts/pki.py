"""Certificates of the EU DCC keys: a self-signed CSCA per region and its document signers — pure.

The EU DCC trust model (specification vol. 1 §5): a country signing CA (CSCA)
issues document signer certificates (DSC); verifiers trust DSCs, found by kid
(the first 8 bytes of SHA-256 over the DSC's DER). Here each region is its own
CSCA. The DSC carries the DCC extended-key-usage OIDs of the certificate types
it may sign — vaccination and test (:data:`healthcode.credentials.hcert.EKU_TYPES`).

Names: ``C=XH`` (see :data:`healthcode.ecerts.mapping.ISSUER_COUNTRY`),
``O=healthcode``, ``CN=healthcode CSCA|DSC <region> (<code>)`` (+ `` DEMO``).
Certificates start one hour before they are made, so a verifier whose clock is a
little behind still accepts the first certificates they sign.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from healthcode.ecerts.mapping import ISSUER_COUNTRY

#: Validity of a region's CSCA certificate, in days.
CSCA_VALID_DAYS = 5 * 365
#: Validity of a document signer certificate, in days (≈ 2 years).
DSC_VALID_DAYS = 2 * 365
#: How far back a new certificate's validity starts (clock skew of verifiers).
BACKDATE = timedelta(hours=1)
#: DCC extended key usage: test, vaccination (we issue no recovery certificates).
DSC_EKU = ("1.3.6.1.4.1.1847.2021.1.1", "1.3.6.1.4.1.1847.2021.1.2")


def _name(role: str, region_code: str, region_name: str, demo: bool) -> x509.Name:
    label = f"healthcode {role} {region_name} ({region_code})" + (" DEMO" if demo else "")
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, ISSUER_COUNTRY),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "healthcode"),
            x509.NameAttribute(NameOID.COMMON_NAME, label[:64]),
        ]
    )


def csca_certificate(
    key: ec.EllipticCurvePrivateKey,
    *,
    region_code: str,
    region_name: str,
    at: datetime,
    demo: bool,
    days: int = CSCA_VALID_DAYS,
) -> x509.Certificate:
    """A self-signed CSCA certificate (CA, path length 0, keyCertSign + cRLSign)."""
    name = _name("CSCA", region_code, region_name, demo)
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(at - BACKDATE)
        .not_valid_after(at + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def dsc_certificate(
    public: ec.EllipticCurvePublicKey,
    *,
    csca_key: ec.EllipticCurvePrivateKey,
    csca: x509.Certificate,
    region_code: str,
    region_name: str,
    at: datetime,
    demo: bool,
    days: int = DSC_VALID_DAYS,
) -> x509.Certificate:
    """A document signer certificate issued by ``csca`` (digitalSignature, DCC EKU).

    Its validity ends no later than the CSCA's.
    """
    not_after = min(at + timedelta(days=days), csca.not_valid_after_utc)
    return (
        x509.CertificateBuilder()
        .subject_name(_name("DSC", region_code, region_name, demo))
        .issuer_name(csca.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(at - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
        .add_extension(
            x509.ExtendedKeyUsage([x509.ObjectIdentifier(oid) for oid in DSC_EKU]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(csca_key.public_key()),
            critical=False,
        )
        .sign(csca_key, hashes.SHA256())
    )

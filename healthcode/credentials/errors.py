"""Errors of the credential formats and the verification pipeline.

Each class is one stable reason code that appears in a
:class:`~healthcode.credentials.report.VerificationReport`'s ``reasons``.
Stages raise these; the pipeline records them (it never lets one escape).
"""

from __future__ import annotations

from healthcode.errors import HealthCodeError


class CredentialError(HealthCodeError):
    code = "credential-invalid"
    status = 422


# --- reading the input ------------------------------------------------------
class PictureUnreadable(CredentialError):
    code = "picture-unreadable"  # not an image we can open (or too large)


class NoQrFound(CredentialError):
    code = "no-qr-found"  # an image, but no QR symbol in it


class UnknownFormat(CredentialError):
    code = "unknown-format"  # no known prefix (HP1:, HC1:, shc:/)


class PayloadTooLarge(CredentialError):
    code = "payload-too-large"


class PrefixInvalid(UnknownFormat):
    code = "prefix-invalid"  # another context prefix (HC2: …) or none where one is required


class ChunksInvalid(CredentialError):
    code = "chunks-invalid"  # SHC multi-part QR: duplicated, missing or out-of-range chunk


class NumericInvalid(CredentialError):
    code = "numeric-invalid"  # SHC numeric mode: odd digit count, pair above 77


class JwsInvalid(CredentialError):
    code = "jws-invalid"  # not JWS compact, bad header (alg/zip/kid), trailing characters


# --- decoding ----------------------------------------------------------------
class Base45Invalid(CredentialError):
    code = "base45-invalid"


class DecompressionFailed(CredentialError):
    code = "decompression-failed"


class CoseInvalid(CredentialError):
    code = "cose-invalid"


class CborInvalid(CredentialError):
    code = "cbor-invalid"


# --- trust -------------------------------------------------------------------
class UnknownSigner(CredentialError):
    code = "unknown-kid"


class UnknownIssuer(CredentialError):
    code = "unknown-issuer"  # SHC: no key set for this iss


class IssuerKeysInvalid(CredentialError):
    code = "issuer-keys-invalid"  # SHC: the issuer's key set was refused when loaded


class KeyRevoked(CredentialError):
    code = "key-revoked"


class DemoKeyRejected(CredentialError):
    code = "demo-key-rejected"  # a DEMO issuer key presented to a production verifier


class SignerCertificateExpired(CredentialError):
    code = "signer-certificate-expired"


class SignatureInvalid(CredentialError):
    code = "signature-invalid"


class UnsupportedAlgorithm(CredentialError):
    code = "unsupported-algorithm"


# --- validity ----------------------------------------------------------------
class Expired(CredentialError):
    code = "expired"


class NotYetValid(CredentialError):
    code = "not-yet-valid"  # "check the device clock", never "signature invalid"


class ClaimsInvalid(CredentialError):
    code = "claims-invalid"


class KeyUsageMismatch(CredentialError):
    code = "key-usage-mismatch"


class SchemaDeviation(CredentialError):
    code = "schema-deviation"


class PayloadInvalid(CredentialError):
    code = "payload-invalid"  # SHC: JWS payload is not the expected JSON (iss, nbf, vc …)


class FhirInvalid(CredentialError):
    code = "fhir-invalid"  # SHC: the FHIR bundle does not have the required shape


class RevocationListInvalid(CredentialError):
    code = "revocation-list-invalid"  # the issuer's revocation list could not be used


class Revoked(CredentialError):
    code = "revoked"


class RuleFailed(CredentialError):
    code = "rule-failed"


class SeveralCodes(CredentialError):
    code = "several-codes"  # more than one code given where one is expected (not SHC chunks)

"""PAdES signatures on the server's PDF documents, and their validation (no Django: the validator runs offline).

A document is signed with the report-signing key (ECDSA P-256 or RSA, PEM) and its certificate chain. A
deployment without a certificate from its own PKI gets a self-signed certificate made from the key: the same
key always gives the same certificate (fixed validity, serial from the public key, deterministic ECDSA), so an
auditor can pin it once (``/records/signing-certificate.pem``) and validate every later document against it.

Validate a downloaded document offline::

    python -m compliance.pdf_signing --trust signing-certificate.pem fairlens-ll144-....pdf

which prints the signer, whether the signed bytes are intact, whether the signature covers the whole file and
whether the signer is trusted; the exit status is 0 only when all four hold.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

SIGNATURE_FIELD = "FairLensSignature"
# A self-signed certificate's validity is fixed, so it depends on the key alone.
_SELF_SIGNED_FROM = datetime(2026, 1, 1, tzinfo=UTC)
_SELF_SIGNED_FOR = timedelta(days=20 * 365)


class SigningMaterialError(ValueError):
    """The key or certificate cannot sign documents (unreadable, unsupported kind, or not a pair)."""


def _private_key(key_pem: str) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise SigningMaterialError(f"REPORT_SIGNING_KEY is not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise SigningMaterialError("REPORT_SIGNING_KEY must be an ECDSA or RSA key (PDF readers support these).")
    return key


def self_signed_certificate(key_pem: str, common_name: str) -> str:
    """A self-signed certificate (PEM) for ``key_pem``, for document signing only; the same for the same key."""
    key = _private_key(key_pem)
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(hashlib.sha256(public_der).digest()[:16], "big") >> 1)
        .not_valid_before(_SELF_SIGNED_FROM)
        .not_valid_after(_SELF_SIGNED_FROM + _SELF_SIGNED_FOR)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    deterministic = {"ecdsa_deterministic": True} if isinstance(key, ec.EllipticCurvePrivateKey) else {}
    return builder.sign(key, hashes.SHA256(), **deterministic).public_bytes(serialization.Encoding.PEM).decode()


def certificate_fingerprint(certificate_pem: str) -> str:
    """SHA-256 of the first (signer's) certificate's DER, hex: what an audit entry records of the signer."""
    return x509.load_pem_x509_certificates(certificate_pem.encode())[0].fingerprint(hashes.SHA256()).hex()


def _asn1_certificates(certificate_pem: str) -> list:
    from asn1crypto import x509 as asn1_x509

    try:
        certificates = x509.load_pem_x509_certificates(certificate_pem.encode())
    except ValueError as exc:
        raise SigningMaterialError(f"REPORT_SIGNING_CERT is not a PEM certificate chain: {exc}") from exc
    return [asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)) for cert in certificates]


def sign_pdf(pdf: bytes, *, key_pem: str, certificate_pem: str, reason: str) -> bytes:
    """``pdf`` with a PAdES B-B signature over the whole file by ``key_pem``; ``certificate_pem`` is the signer's
    certificate first, then any intermediates (all embedded, so a reader can build the path)."""
    from pyhanko.keys import load_private_key_from_pemder_data
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key = _private_key(key_pem)
    chain = _asn1_certificates(certificate_pem)
    signer_public = x509.load_pem_x509_certificates(certificate_pem.encode())[0].public_key()
    if signer_public != key.public_key():
        raise SigningMaterialError("REPORT_SIGNING_CERT's first certificate is not for REPORT_SIGNING_KEY.")
    signer = signers.SimpleSigner(
        signing_cert=chain[0],
        signing_key=load_private_key_from_pemder_data(key_pem.encode(), passphrase=None),
        cert_registry=SimpleCertificateStore.from_certs(chain),
    )
    metadata = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        reason=reason,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    return signers.sign_pdf(writer, metadata, signer=signer).getvalue()


@dataclass(frozen=True)
class SignatureCheck:
    """What a PDF reader checks of the document's signature."""

    signer: str
    intact: bool  # the signed bytes are unchanged
    valid: bool  # the signature verifies under the signer's certificate
    whole_file: bool  # nothing was appended after signing
    trusted: bool  # the signer chains to a given trust root

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.whole_file and self.trusted

    def summary(self) -> str:
        verdict = "OK" if self.ok else "FAIL"
        return (
            f"{verdict}: signed by {self.signer}; intact={self.intact} valid={self.valid} "
            f"whole_file={self.whole_file} trusted={self.trusted}"
        )


def check_pdf_signature(pdf: bytes, *, trust_pem: str) -> SignatureCheck:
    """Validate the document's one signature against the certificates in ``trust_pem``.

    A document that is not a readable signed PDF (for instance one whose bytes were changed where the reader
    looks for its structure) fails: every flag is false.
    """
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    roots = _asn1_certificates(trust_pem)
    try:
        signatures = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
        if len(signatures) != 1:
            return SignatureCheck(f"{len(signatures)} signatures", False, False, False, False)
        status = validate_pdf_signature(signatures[0], ValidationContext(trust_roots=roots))
    except Exception as exc:  # a damaged file cannot be parsed; that is a failed check, not a crash
        return SignatureCheck(f"unreadable ({type(exc).__name__}: {exc})", False, False, False, False)
    return SignatureCheck(
        signer=status.signing_cert.subject.human_friendly,
        intact=bool(status.intact),
        valid=bool(status.valid),
        whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        trusted=bool(status.trusted),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compliance.pdf_signing", description=__doc__.split("\n")[0])
    parser.add_argument("document", type=Path, help="The signed PDF.")
    parser.add_argument("--trust", type=Path, required=True, help="PEM certificate(s) to trust as the signer.")
    arguments = parser.parse_args(argv)
    try:
        pdf, trust = arguments.document.read_bytes(), arguments.trust.read_text()
        result = check_pdf_signature(pdf, trust_pem=trust)
    except (OSError, SigningMaterialError) as exc:
        sys.stderr.write(f"cannot read the inputs: {exc}\n")
        return 2
    sys.stdout.write(result.summary() + "\n")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""PAdES signing and validation of the PDF documents, without Django: the self-signed certificate is a function
of the key, a signature validates only unchanged and only against its signer, and unusable key material is
refused with a message rather than producing a document no reader accepts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from compliance.pdf_signing import (
    SigningMaterialError,
    certificate_fingerprint,
    check_pdf_signature,
    main,
    self_signed_certificate,
    sign_pdf,
)
from core.env import _new_p256_pem
from monitoring.audit_report.pdf import Document, Section, Table, render_pdf

SIGNER = "FairLens report signing (test)"


def _pem(key: object) -> str:
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def small_pdf() -> bytes:
    return render_pdf(
        Document(
            kind="test",
            title="Test document – ≥ 0.8",
            subtitle="Zoë, Ærø, Ελένη, Юлия",
            bundle_sha256="ab" * 32,
            created_at=datetime(2026, 10, 1, tzinfo=UTC),
            fields=(("Assessed", 120), ("Rate", 0.25)),
            sections=(Section(heading="A table", tables=(Table(columns=("Group", "Rate"), rows=[("F", 0.5)]),)),),
        )
    )


@pytest.fixture(scope="module")
def key_pem() -> str:
    return _new_p256_pem()


def test_the_self_signed_certificate_depends_on_the_key_alone(key_pem: str) -> None:
    first, second = self_signed_certificate(key_pem, SIGNER), self_signed_certificate(key_pem, SIGNER)
    assert first == second
    assert certificate_fingerprint(first) != certificate_fingerprint(self_signed_certificate(_new_p256_pem(), SIGNER))


@pytest.mark.parametrize("kind", ["ecdsa-p256", "rsa-2048"])
def test_a_signed_pdf_validates_and_one_changed_byte_breaks_it(kind: str, key_pem: str) -> None:
    key = key_pem if kind == "ecdsa-p256" else _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    certificate = self_signed_certificate(key, SIGNER)
    signed = sign_pdf(small_pdf(), key_pem=key, certificate_pem=certificate, reason="test")
    check = check_pdf_signature(signed, trust_pem=certificate)
    assert check.ok, check.summary()
    assert SIGNER in check.signer
    changed = bytearray(signed)
    at = signed.index(b"/Producer") + 1
    changed[at] ^= 0x01
    broken = check_pdf_signature(bytes(changed), trust_pem=certificate)
    assert not broken.intact
    assert not broken.ok
    appended = check_pdf_signature(signed + b"\n% appended after signing\n", trust_pem=certificate)
    assert not appended.whole_file
    assert not appended.ok


def test_a_signature_is_trusted_only_under_its_signer(key_pem: str) -> None:
    signed = sign_pdf(
        small_pdf(), key_pem=key_pem, certificate_pem=self_signed_certificate(key_pem, SIGNER), reason="t"
    )
    other = check_pdf_signature(signed, trust_pem=self_signed_certificate(_new_p256_pem(), SIGNER))
    assert other.intact
    assert other.valid
    assert not other.trusted
    assert not other.ok


def test_unusable_key_material_is_refused_with_the_reason(key_pem: str) -> None:
    with pytest.raises(SigningMaterialError, match="ECDSA or RSA"):
        self_signed_certificate(_pem(ed25519.Ed25519PrivateKey.generate()), SIGNER)
    with pytest.raises(SigningMaterialError, match="not an unencrypted PEM private key"):
        sign_pdf(small_pdf(), key_pem="not a key", certificate_pem="", reason="t")
    with pytest.raises(SigningMaterialError, match="is not for REPORT_SIGNING_KEY"):
        sign_pdf(
            small_pdf(),
            key_pem=key_pem,
            certificate_pem=self_signed_certificate(_new_p256_pem(), SIGNER),
            reason="t",
        )
    unreadable = check_pdf_signature(b"%PDF-1.7 not really", trust_pem=self_signed_certificate(key_pem, SIGNER))
    assert not unreadable.ok
    assert unreadable.signer.startswith("unreadable")


def test_the_command_line_says_ok_or_fail(tmp_path: Path, key_pem: str, capsys: pytest.CaptureFixture[str]) -> None:
    certificate = self_signed_certificate(key_pem, SIGNER)
    signed = sign_pdf(small_pdf(), key_pem=key_pem, certificate_pem=certificate, reason="t")
    (tmp_path / "doc.pdf").write_bytes(signed)
    (tmp_path / "trust.pem").write_text(certificate)
    assert main([str(tmp_path / "doc.pdf"), "--trust", str(tmp_path / "trust.pem")]) == 0
    assert capsys.readouterr().out.startswith("OK: signed by")
    (tmp_path / "doc.pdf").write_bytes(signed + b"% more")
    assert main([str(tmp_path / "doc.pdf"), "--trust", str(tmp_path / "trust.pem")]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert main([str(tmp_path / "missing.pdf"), "--trust", str(tmp_path / "trust.pem")]) == 2

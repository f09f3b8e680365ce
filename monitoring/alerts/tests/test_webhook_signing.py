"""Standard Webhooks signing and verification (security.md WH-1 … WH-9, WH-14; goal G6).

No database: these are pure functions plus a SQLite file and a subprocess.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
import http.client
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as ReferenceVerificationError

from monitoring.alerts.webhooks import signing
from monitoring.alerts.webhooks.receiver import SeenIds, WebhookVerificationError, verify
from monitoring.alerts.webhooks.signing import (
    generate_secret,
    hmac_sha256,
    new_message_id,
    secret_bytes,
    sign,
    signature_header,
    webhook_headers,
)

REPO_ROOT = Path(__file__).resolve().parents[3]

# WH-7: the reference library's own known-answer test (libraries/python/tests/test_webhooks.py::test_sign_function).
KAT_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KAT_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
KAT_TS = 1614265330
KAT_BODY = b'{"test": 2432232314}'
KAT_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

BODY = json.dumps({"type": "alert.created", "timestamp": "2024-05-01T00:00:00Z", "data": {"alert_id": 42}}).encode()


def _headers(secrets: list[str], msg_id: str = "msg_test1", ts: int = KAT_TS, body: bytes = BODY) -> dict[str, str]:
    return webhook_headers(secrets, msg_id, ts, body)


# --- sender side -------------------------------------------------------------------------------------------------


def test_known_answer_wh7() -> None:
    assert sign(KAT_SECRET, KAT_ID, KAT_TS, KAT_BODY) == KAT_SIGNATURE


def test_known_answer_with_bare_base64_secret() -> None:
    assert sign(KAT_SECRET.removeprefix("whsec_"), KAT_ID, KAT_TS, KAT_BODY) == KAT_SIGNATURE


def test_github_vector_wh9_through_our_hmac_path() -> None:
    """GitHub's documented X-Hub-Signature-256 example, computed with our key decoding and HMAC primitive."""
    secret = "whsec_" + base64.b64encode(b"It's a Secret to Everybody").decode()
    digest = hmac_sha256(secret_bytes(secret), b"Hello, World!")
    assert "sha256=" + digest.hex() == "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_generate_secret_is_whsec_32_random_bytes() -> None:
    first, second = generate_secret(), generate_secret()
    assert first.startswith("whsec_")
    assert len(secret_bytes(first)) == 32
    assert base64.b64decode(first.removeprefix("whsec_")) == secret_bytes(first)
    assert first != second


@pytest.mark.parametrize("size", [24, 32, 64])
def test_secret_bytes_accepts_spec_sizes(size: int) -> None:
    raw = bytes(range(size))
    assert secret_bytes("whsec_" + base64.b64encode(raw).decode()) == raw
    assert secret_bytes(base64.b64encode(raw).decode().rstrip("=")) == raw  # bare and unpadded


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("whsec_" + base64.b64encode(b"x" * 23).decode(), "23 bytes"),
        ("whsec_" + base64.b64encode(b"x" * 65).decode(), "65 bytes"),
        ("whsec_", "empty"),
        ("", "empty"),
        ("whsec_not base64!!", "not valid base64"),
        ("whsk_" + base64.b64encode(b"x" * 32).decode(), "not valid base64"),
    ],
)
def test_secret_bytes_rejects_bad_secrets(secret: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        secret_bytes(secret)


def test_message_ids_are_unique_and_dot_free() -> None:
    ids = {new_message_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(msg_id.startswith("msg_") and "." not in msg_id and len(msg_id) >= 20 for msg_id in ids)


@pytest.mark.parametrize("msg_id", ["msg_a.b", ".", "msg_.1614265330", ""])
def test_sign_rejects_ids_that_could_shift_fields(msg_id: str) -> None:
    with pytest.raises(ValueError, match="webhook id"):
        sign(KAT_SECRET, msg_id, KAT_TS, KAT_BODY)


def test_sign_rejects_non_integer_timestamp() -> None:
    with pytest.raises(ValueError, match="timestamp"):
        sign(KAT_SECRET, KAT_ID, "1614265330", KAT_BODY)  # type: ignore[arg-type]


def test_headers_have_the_standard_names_and_values() -> None:
    headers = webhook_headers([KAT_SECRET], KAT_ID, KAT_TS, KAT_BODY)
    assert headers == {
        "webhook-id": KAT_ID,
        "webhook-timestamp": str(KAT_TS),
        "webhook-signature": KAT_SIGNATURE,
        "content-type": "application/json",
    }


def test_rotation_header_lists_new_then_old() -> None:
    new, old = generate_secret(), generate_secret()
    header = signature_header([new, old], KAT_ID, KAT_TS, KAT_BODY)
    assert header.split(" ") == [sign(new, KAT_ID, KAT_TS, KAT_BODY), sign(old, KAT_ID, KAT_TS, KAT_BODY)]
    assert signature_header([new, new], KAT_ID, KAT_TS, KAT_BODY) == sign(new, KAT_ID, KAT_TS, KAT_BODY)


def test_signature_header_refuses_bare_string_and_empty_list() -> None:
    with pytest.raises(TypeError):
        signature_header(KAT_SECRET, KAT_ID, KAT_TS, KAT_BODY)
    with pytest.raises(ValueError, match="at least one"):
        signature_header([], KAT_ID, KAT_TS, KAT_BODY)


# --- interoperability with the reference library (WH-7) ----------------------------------------------------------


def test_reference_library_verifies_our_headers() -> None:
    secret = generate_secret()
    headers = _headers([secret], new_message_id(), int(time.time()))
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)


def test_reference_library_verifies_rotation_header_with_either_secret() -> None:
    new, old, stranger = generate_secret(), generate_secret(), generate_secret()
    headers = _headers([new, old], new_message_id(), int(time.time()))
    assert Webhook(new).verify(BODY, headers) == json.loads(BODY)
    assert Webhook(old).verify(BODY, headers) == json.loads(BODY)
    with pytest.raises(ReferenceVerificationError):
        Webhook(stranger).verify(BODY, headers)


def test_our_verify_accepts_what_the_reference_library_signs() -> None:
    secret = generate_secret()
    ts = 1_700_000_000
    reference_sig = Webhook(secret).sign("msg_ref", datetime.fromtimestamp(ts, tz=UTC), BODY.decode())
    headers = {"webhook-id": "msg_ref", "webhook-timestamp": str(ts), "webhook-signature": reference_sig}
    verify(secret, headers, BODY, now=ts)
    assert reference_sig == sign(secret, "msg_ref", ts, BODY)


# --- receiver side -----------------------------------------------------------------------------------------------


def test_verify_accepts_the_known_answer() -> None:
    verify(KAT_SECRET, _headers([KAT_SECRET], KAT_ID, KAT_TS, KAT_BODY), KAT_BODY, now=KAT_TS)


@pytest.mark.parametrize("skew", [-300, -299, 0, 299, 300])
def test_timestamps_inside_tolerance_are_accepted(skew: int) -> None:
    verify(KAT_SECRET, _headers([KAT_SECRET]), BODY, now=KAT_TS + skew)


@pytest.mark.parametrize("skew", [-301, 301, -86400, 86400])
def test_timestamps_outside_tolerance_are_rejected_both_ways(skew: int) -> None:
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify(KAT_SECRET, _headers([KAT_SECRET]), BODY, now=KAT_TS + skew)


def test_tolerance_is_configurable() -> None:
    verify(KAT_SECRET, _headers([KAT_SECRET]), BODY, now=KAT_TS + 500, tolerance_seconds=600)
    with pytest.raises(WebhookVerificationError):
        verify(KAT_SECRET, _headers([KAT_SECRET]), BODY, now=KAT_TS + 5, tolerance_seconds=4)


def test_verify_uses_the_clock_by_default() -> None:
    secret = generate_secret()
    verify(secret, _headers([secret], ts=int(time.time())), BODY)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify(secret, _headers([secret], ts=int(time.time()) - 3600), BODY)


def test_header_lookup_is_case_insensitive() -> None:
    headers = {name.title(): value for name, value in _headers([KAT_SECRET]).items()}
    assert "Webhook-Signature" in headers
    verify(KAT_SECRET, headers, BODY, now=KAT_TS)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_or_empty_headers_are_rejected(missing: str) -> None:
    headers = _headers([KAT_SECRET])
    del headers[missing]
    with pytest.raises(WebhookVerificationError, match=missing):
        verify(KAT_SECRET, headers, BODY, now=KAT_TS)
    headers[missing] = ""
    with pytest.raises(WebhookVerificationError, match=missing):
        verify(KAT_SECRET, headers, BODY, now=KAT_TS)


@pytest.mark.parametrize(
    "timestamp", ["1614265330.0", "+1614265330", " 1614265330", "1614265330 ", "1_614_265_330", "abc", "-5", "١٢٣"]
)
def test_non_integer_timestamps_are_rejected(timestamp: str) -> None:
    headers = _headers([KAT_SECRET])
    headers["webhook-timestamp"] = timestamp
    with pytest.raises(WebhookVerificationError, match="not an integer"):
        verify(KAT_SECRET, headers, BODY, now=KAT_TS)


def test_conflicting_duplicate_headers_are_rejected() -> None:
    headers = _headers([KAT_SECRET])
    headers["Webhook-Id"] = "msg_other"
    with pytest.raises(WebhookVerificationError, match="conflicting"):
        verify(KAT_SECRET, headers, BODY, now=KAT_TS)


def test_unknown_versions_are_ignored_not_trusted() -> None:
    headers = _headers([KAT_SECRET])
    good = headers["webhook-signature"]
    payload = good.split(",", 1)[1]
    headers["webhook-signature"] = f"v1a,{payload} v2,{payload}"
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify(KAT_SECRET, headers, BODY, now=KAT_TS)
    headers["webhook-signature"] = f"v1a,{payload} v1,not-base64!! {good}"
    verify(KAT_SECRET, headers, BODY, now=KAT_TS)


def test_rotation_header_verifies_with_either_secret_and_secret_lists() -> None:
    new, old, stranger = generate_secret(), generate_secret(), generate_secret()
    headers = _headers([new, old])
    verify(new, headers, BODY, now=KAT_TS)
    verify(old, headers, BODY, now=KAT_TS)
    verify([stranger, old], headers, BODY, now=KAT_TS)  # a receiver mid-rotation holds two secrets
    with pytest.raises(WebhookVerificationError):
        verify(stranger, headers, BODY, now=KAT_TS)


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(WebhookVerificationError):
        verify(generate_secret(), _headers([KAT_SECRET]), BODY, now=KAT_TS)


def _flip(text: str, index: int, mask: int) -> str:
    index %= len(text)
    return text[:index] + chr(ord(text[index]) ^ mask) + text[index + 1 :]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(min_size=1, max_size=300),
    field=st.sampled_from(["body", "webhook-id", "webhook-timestamp", "webhook-signature"]),
    index=st.integers(min_value=0, max_value=10_000),
    mask=st.integers(min_value=1, max_value=255),
)
def test_any_single_byte_flip_is_rejected(body: bytes, field: str, index: int, mask: int) -> None:
    """WH-8: flipping one byte of body, id, timestamp or signature is rejected, 100 % of the time."""
    headers = webhook_headers([KAT_SECRET], KAT_ID, KAT_TS, body)
    verify(KAT_SECRET, headers, body, now=KAT_TS)  # the untouched message passes
    if field == "body":
        position = index % len(body)
        body = body[:position] + bytes([body[position] ^ mask]) + body[position + 1 :]
    else:
        headers[field] = _flip(headers[field], index, mask)
    with pytest.raises(WebhookVerificationError):
        verify(KAT_SECRET, headers, body, now=KAT_TS)


def test_a_signature_in_non_canonical_base64_is_rejected() -> None:
    """The last character of a 32-byte digest in base64 carries two unused bits: changing them decodes to the
    same bytes, so a receiver comparing decoded bytes would accept an altered header. Ours compares the text."""
    body = b"x"
    headers = webhook_headers([KAT_SECRET], KAT_ID, KAT_TS, body)
    signature = headers["webhook-signature"]
    assert signature.endswith("=")
    assert len(base64.b64decode(signature.removeprefix("v1,"))) == 32
    last = signature[-2]
    variant = next(
        char
        for char in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        if char != last and base64.b64decode(signature[3:-2] + char + "=") == base64.b64decode(signature[3:])
    )
    headers["webhook-signature"] = signature[:-2] + variant + "="
    with pytest.raises(WebhookVerificationError):
        verify(KAT_SECRET, headers, body, now=KAT_TS)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=500), ts=st.integers(min_value=0, max_value=2**40), id_suffix=st.text("abcXYZ09_-"))
def test_round_trip_matches_spec_definition(body: bytes, ts: int, id_suffix: str) -> None:
    msg_id = "msg_" + id_suffix
    headers = webhook_headers([KAT_SECRET], msg_id, ts, body)
    verify(KAT_SECRET, headers, body, now=ts)
    # Independent computation with the stdlib, straight from the spec's definition of the signed content.
    key = base64.b64decode(KAT_SECRET.removeprefix("whsec_"))
    expected = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()


# --- dedupe (WH-14) ----------------------------------------------------------------------------------------------


def test_seen_ids_first_time_once(tmp_path: Path) -> None:
    seen = SeenIds(tmp_path / "ids.sqlite3")
    assert seen.first_time("msg_1") is True
    assert seen.first_time("msg_1") is False
    assert seen.first_time("msg_2") is True
    assert SeenIds(tmp_path / "ids.sqlite3").first_time("msg_1") is False  # persisted in the file


def test_seen_ids_true_exactly_once_under_concurrent_threads(tmp_path: Path) -> None:
    seen = SeenIds(tmp_path / "ids.sqlite3")
    ids = [f"msg_{n}" for n in range(60)]
    threads = 12
    barrier = threading.Barrier(threads)
    results: list[tuple[str, bool]] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        barrier.wait()
        rotated = ids[offset:] + ids[:offset]  # different threads race on different ids first
        for msg_id in rotated:
            outcome = seen.first_time(msg_id)
            with lock:
                results.append((msg_id, outcome))

    pool = [threading.Thread(target=worker, args=(n * 5,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=30)
    assert len(results) == threads * len(ids)
    winners = [msg_id for msg_id, outcome in results if outcome]
    assert sorted(winners) == sorted(ids)  # every id won exactly once


def test_seen_ids_true_exactly_once_across_processes(tmp_path: Path) -> None:
    db = tmp_path / "ids.sqlite3"
    SeenIds(db)
    script = (
        "import sys\nfrom monitoring.alerts.webhooks.receiver import SeenIds\n"
        "seen = SeenIds(sys.argv[1])\n"
        "print(sum(seen.first_time(f'msg_{n}') for n in range(150)))\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(db)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    counts = [int(proc.communicate(timeout=60)[0]) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    assert sum(counts) == 150


# --- packaging rules ---------------------------------------------------------------------------------------------


def test_webhook_modules_do_not_import_django() -> None:
    code = (
        "import sys\nimport monitoring.alerts.webhooks.signing, monitoring.alerts.webhooks.receiver, "
        "monitoring.alerts.webhooks.ssrf, "
        "monitoring.alerts.webhooks.transport\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'rest_framework', 'requests', 'celery'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_receiver_is_a_single_stdlib_only_file() -> None:
    """Customers copy receiver.py alone, so it may import nothing but the standard library."""
    tree = ast.parse(Path(signing.__file__).with_name("receiver.py").read_text())
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    top_level = {name.split(".")[0] for name in modules} - {"__future__"}
    assert top_level
    assert top_level <= sys.stdlib_module_names, top_level - sys.stdlib_module_names


# --- the demo receiver as a real process -------------------------------------------------------------------------


@pytest.fixture
def demo_receiver(tmp_path: Path) -> Iterator[tuple[str, int, queue.Queue[str], str]]:
    secret = generate_secret()
    env = {**os.environ, "WEBHOOK_SECRET": secret, "PYTHONUNBUFFERED": "1"}
    with (tmp_path / "receiver.log").open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "monitoring.alerts.webhooks.receiver",
                "--host",
                "127.0.0.1",
                "--port",
                "0",  # the OS picks a free port; the receiver prints it
                "--db",
                str(tmp_path / "ids.sqlite3"),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put(line.rstrip("\n"))

        threading.Thread(target=pump, daemon=True).start()
        try:
            first = lines.get(timeout=20)
            assert first.startswith("listening on http://127.0.0.1:"), first
            yield "127.0.0.1", int(first.rsplit(":", 1)[1]), lines, secret
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _post(host: str, port: int, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("POST", "/webhooks/fairlens", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_demo_receiver_accepts_signed_and_rejects_tampered(
    demo_receiver: tuple[str, int, queue.Queue[str], str],
) -> None:
    host, port, lines, secret = demo_receiver
    msg_id = new_message_id()
    headers = webhook_headers([secret], msg_id, int(time.time()), BODY)

    assert _post(host, port, BODY, headers) == (200, {"ok": True, "duplicate": False})
    assert lines.get(timeout=10) == f"webhook verified: id={msg_id} type=alert.created duplicate=no"

    # A retry of the same event (re-signed with a new timestamp) is acknowledged but flagged as a duplicate.
    retry_headers = webhook_headers([secret], msg_id, int(time.time()) + 1, BODY)
    assert _post(host, port, BODY, retry_headers) == (200, {"ok": True, "duplicate": True})
    assert lines.get(timeout=10) == f"webhook verified: id={msg_id} type=alert.created duplicate=yes"

    tampered = BODY.replace(b"42", b"43")
    assert _post(host, port, tampered, headers) == (401, {"error": "invalid signature"})
    forged = webhook_headers([generate_secret()], new_message_id(), int(time.time()), BODY)
    assert _post(host, port, BODY, forged)[0] == 401
    stale = webhook_headers([secret], new_message_id(), int(time.time()) - 3600, BODY)
    assert _post(host, port, BODY, stale)[0] == 401

    # Rejected requests print nothing: the next accepted one is the next line.
    other_id = new_message_id()
    assert _post(host, port, BODY, webhook_headers([secret], other_id, int(time.time()), BODY))[0] == 200
    assert lines.get(timeout=10) == f"webhook verified: id={other_id} type=alert.created duplicate=no"
    assert lines.empty()

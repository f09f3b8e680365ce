"""Canonical JSON (RFC 8785), SHA-256 and the audit entry hash chain."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from compliance.crypto import (
    ENTRY_FIELDS,
    GENESIS_HASH,
    audit_entry_fields,
    canonical_entry,
    canonical_json,
    chain_hash,
    format_rfc3339_utc,
    is_rfc3339_utc,
    sha256,
)

SAMPLE_FIELDS: dict[str, Any] = {
    "seq": 1,
    "time": "2026-03-02T09:15:00.123456Z",
    "actor": "alice",
    "role": "auditor",
    "action": "model.update",
    "object_type": "registry.model",
    "object_id": "42",
    "request_id": "",
    "payload": {"threshold": 0.8, "name": "Zoë", "flags": [True, None], "count": 3},
}
# Written out by hand from RFC 8785's rules (sorted keys, no whitespace, shortest numbers, raw UTF-8), so it checks
# the serialization rather than restating it.
SAMPLE_CANONICAL = (
    '{"action":"model.update","actor":"alice","object_id":"42","object_type":"registry.model",'
    '"payload":{"count":3,"flags":[true,null],"name":"Zoë","threshold":0.8},"request_id":"","role":"auditor",'
    '"seq":1,"time":"2026-03-02T09:15:00.123456Z"}'
).encode()


class TestCanonicalJson:
    def test_rfc8785_section_3_2_2_example(self) -> None:
        value = {
            "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
            "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
            "literals": [None, True, False],
        }
        expected = (
            '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
            '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
        ).encode()
        assert canonical_json(value) == expected

    def test_rfc8785_section_3_2_3_sorts_keys_by_utf16_code_units(self) -> None:
        value = {
            "\u20ac": "Euro Sign",
            "\r": "Carriage Return",
            "\ufb33": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\U0001f600": "Emoji: Grinning Face",
            "\u0080": "Control",
            "\u00f6": "Latin Small Letter O With Diaeresis",
        }
        pairs = json.loads(canonical_json(value), object_pairs_hook=list)
        assert [name for _, name in pairs] == [
            "Carriage Return",
            "One",
            "Control",
            "Latin Small Letter O With Diaeresis",
            "Euro Sign",
            "Emoji: Grinning Face",
            "Hebrew Letter Dalet With Dagesh",
        ]

    @pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
    def test_non_finite_numbers_are_rejected_with_their_location(self, number: float) -> None:
        with pytest.raises(ValueError, match=r"NaN or infinity \(found at \$\.payload\.scores\[1\]\)"):
            canonical_json({"payload": {"scores": [0.5, number]}})

    def test_integers_beyond_json_precision_are_rejected(self) -> None:
        with pytest.raises(ValueError, match=r"2\*\*53.*\$\.big"):
            canonical_json({"big": 2**53})

    @pytest.mark.parametrize("value", [{1: "non-string key"}, {"when": datetime(2026, 1, 1, tzinfo=UTC)}])
    def test_values_json_cannot_carry_are_rejected(self, value: Any) -> None:
        with pytest.raises(ValueError, match="canonical JSON"):
            canonical_json(value)


def test_sha256_known_answer() -> None:
    assert sha256(b"abc").hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_genesis_hash_is_32_zero_bytes() -> None:
    assert GENESIS_HASH.hex() == "00" * 32


class TestEntries:
    def test_canonical_entry_known_answer(self) -> None:
        assert canonical_entry(audit_entry_fields(**SAMPLE_FIELDS)) == SAMPLE_CANONICAL

    def test_chain_hash_is_sha256_of_previous_hash_and_canonical_entry(self) -> None:
        expected = hashlib.sha256(bytes(32) + SAMPLE_CANONICAL).digest()
        assert chain_hash(GENESIS_HASH, canonical_entry(SAMPLE_FIELDS)) == expected

    def test_fields_come_back_in_the_documented_set(self) -> None:
        assert tuple(audit_entry_fields(**SAMPLE_FIELDS)) == ENTRY_FIELDS

    def test_empty_optional_strings_are_allowed(self) -> None:
        fields = audit_entry_fields(**{**SAMPLE_FIELDS, "actor": "", "role": "", "object_id": "", "object_type": ""})
        assert fields["actor"] == fields["role"] == fields["object_id"] == fields["object_type"] == ""

    @pytest.mark.parametrize(
        ("change", "error"),
        [
            ({"seq": 0}, ValueError),
            ({"seq": True}, TypeError),
            ({"seq": "1"}, TypeError),
            ({"time": "2026-03-02T09:15:00+00:00"}, ValueError),
            ({"time": "2026-03-02 09:15:00Z"}, ValueError),
            ({"time": "2026-02-30T09:15:00Z"}, ValueError),
            ({"time": "2026-03-02T09:15:00.1234567Z"}, ValueError),
            ({"actor": None}, TypeError),
            ({"request_id": 7}, TypeError),
            ({"action": ""}, ValueError),
            ({"payload": [1, 2]}, TypeError),
        ],
    )
    def test_invalid_fields_are_rejected(self, change: dict[str, Any], error: type[Exception]) -> None:
        with pytest.raises(error):
            audit_entry_fields(**{**SAMPLE_FIELDS, **change})

    def test_canonical_entry_needs_exactly_the_nine_fields(self) -> None:
        with pytest.raises(ValueError, match=r"missing \['payload'\], unexpected \['extra'\]"):
            canonical_entry({**{k: v for k, v in SAMPLE_FIELDS.items() if k != "payload"}, "extra": 1})

    def test_canonical_entry_validates_the_fields(self) -> None:
        with pytest.raises(ValueError, match="time"):
            canonical_entry({**SAMPLE_FIELDS, "time": "yesterday"})

    def test_chain_hash_needs_a_32_byte_previous_hash(self) -> None:
        with pytest.raises(ValueError, match="32 bytes"):
            chain_hash(b"\x00" * 31, SAMPLE_CANONICAL)

    def test_any_change_to_the_entry_changes_the_hash(self) -> None:
        original = chain_hash(GENESIS_HASH, canonical_entry(SAMPLE_FIELDS))
        changed = {**SAMPLE_FIELDS, "payload": {**SAMPLE_FIELDS["payload"], "threshold": 0.81}}
        assert chain_hash(GENESIS_HASH, canonical_entry(changed)) != original
        assert chain_hash(original, canonical_entry(SAMPLE_FIELDS)) != original


class TestTimestamps:
    def test_format_converts_to_utc_with_microseconds(self) -> None:
        moment = datetime(2026, 3, 2, 11, 15, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
        assert format_rfc3339_utc(moment) == "2026-03-02T09:15:00.123456Z"

    def test_format_pads_microseconds(self) -> None:
        assert format_rfc3339_utc(datetime(2026, 3, 2, 9, 15, tzinfo=UTC)) == "2026-03-02T09:15:00.000000Z"

    def test_naive_datetimes_are_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            format_rfc3339_utc(datetime(2026, 3, 2, 9, 15))  # noqa: DTZ001 - the naive value is the point

    @pytest.mark.parametrize(
        ("text", "valid"),
        [
            ("2026-03-02T09:15:00Z", True),
            ("2026-03-02T09:15:00.1Z", True),
            ("2026-03-02T09:15:00.123456Z", True),
            ("2026-03-02T09:15:00z", False),
            ("2026-13-02T09:15:00Z", False),
            ("2026-03-02T24:15:00Z", False),
            (20260302, False),
        ],
    )
    def test_is_rfc3339_utc(self, text: object, valid: bool) -> None:
        assert is_rfc3339_utc(text) is valid

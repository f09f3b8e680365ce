"""The local encryption keyring: keys from FERNET_KEYS plus keys made by rotation, kept in a 0600 JSON file.

Demo-grade key storage, as the seed's ``fernet.key`` was: anyone who can read the file or the environment can
decrypt. Production uses KEY_PROVIDER_URI=hcvault://... or aws-kms://... (see compliance/crypto/keyproviders.py),
where keys never leave the key service.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from compliance.crypto import LocalFernetProvider, fernet_key_id


@dataclass(frozen=True)
class KeyringState:
    generated: list[dict[str, Any]]  # newest first: {"key", "key_id", "created_at", "retired_at"}

    def active_generated(self) -> list[str]:
        return [item["key"] for item in self.generated if not item.get("retired_at")]


def _path() -> Path:
    return Path(settings.FERNET_KEYRING_PATH)


def _read(handle: Any) -> KeyringState:
    handle.seek(0)
    text = handle.read()
    return KeyringState(json.loads(text)["generated"] if text.strip() else [])


def _write(handle: Any, state: KeyringState) -> None:
    handle.seek(0)
    handle.truncate()
    json.dump({"generated": state.generated}, handle, indent=2)
    handle.flush()
    os.fsync(handle.fileno())


def _open() -> Any:
    _path().parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(_path(), os.O_RDWR | os.O_CREAT, 0o600)
    return os.fdopen(fd, "r+")


def load_state() -> KeyringState:
    if not _path().exists():
        return KeyringState([])
    with _open() as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        return _read(handle)


def active_keys() -> list[str]:
    """Keys in use, newest first: keys made by rotation, then FERNET_KEYS (not retired)."""
    state = load_state()
    retired = {item["key_id"] for item in state.generated if item.get("retired_at")}
    keys = state.active_generated()
    keys += [key for key in settings.FERNET_KEYS if key not in keys and fernet_key_id(key) not in retired]
    return keys


def add_primary_key() -> str:
    """Generate a key and make it the primary (first) one; returns its key id."""
    key = LocalFernetProvider.generate_key()
    with _open() as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        state = _read(handle)
        entry = {"key": key, "key_id": fernet_key_id(key), "created_at": timezone.now().isoformat(), "retired_at": None}
        _write(handle, KeyringState([entry, *state.generated]))
    return entry["key_id"]


def retire_keys(key_ids: set[str]) -> list[str]:
    """Mark keys retired (no longer used to decrypt). Environment keys are recorded here too, so they stop being
    used even before an operator removes them from FERNET_KEYS."""
    if not key_ids:
        return []
    with _open() as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        state = _read(handle)
        now = timezone.now().isoformat()
        generated = [dict(item) for item in state.generated]
        known = {item["key_id"] for item in generated}
        for item in generated:
            if item["key_id"] in key_ids and not item.get("retired_at"):
                item["retired_at"] = now
        for key_id in sorted(key_ids - known):
            generated.append({"key": None, "key_id": key_id, "created_at": None, "retired_at": now})
        _write(handle, KeyringState(generated))
    return sorted(key_ids)

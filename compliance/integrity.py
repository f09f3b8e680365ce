"""The audit trail's integrity as a report states it: the latest verification of the log, and the latest
checkpoint with its anchor (a read; the verification itself is ``compliance.verification``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

from compliance.models import Anchor, Checkpoint, VerificationRun
from compliance.verification import latest_checkpoint
from core.timestamps import rfc3339_utc_or_none


@dataclass(frozen=True)
class Integrity:
    run: VerificationRun | None
    checkpoint: Checkpoint | None
    anchor: Anchor | None

    @property
    def ok(self) -> bool:
        return self.run is not None and self.run.ok

    @property
    def state(self) -> str:
        """ok, failed, or unverified (no verification has run yet: neither good nor bad news)."""
        if self.run is None:
            return "unverified"
        return "ok" if self.run.ok else "failed"

    @property
    def css_class(self) -> str:
        return {"ok": "integrity-ok", "failed": "integrity-bad"}.get(self.state, "integrity-none")

    @property
    def text(self) -> str:
        run = self.run
        if run is None:
            return "Audit log not verified yet."
        when = f"{run.finished_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
        if run.ok:
            return f"Audit log verified: {run.checked_entries} entries checked at {when}."
        where = f"first bad seq {run.first_bad_seq}" if run.first_bad_seq is not None else "at a checkpoint"
        return f"Audit log verification FAILED ({where}) at {when}: {run.problem or 'no detail'}"

    def as_dict(self) -> dict[str, Any]:
        run, checkpoint, anchor = self.run, self.checkpoint, self.anchor
        return {
            "verification": None
            if run is None
            else {
                "id": run.pk,
                "ok": run.ok,
                "checked_entries": run.checked_entries,
                "first_bad_seq": run.first_bad_seq,
                "problem": run.problem,
                "checkpoint_tree_size": run.checkpoint.tree_size if run.checkpoint else None,
                "started_at": rfc3339_utc_or_none(run.started_at),
                "finished_at": rfc3339_utc_or_none(run.finished_at),
            },
            "checkpoint": None
            if checkpoint is None
            else {
                "tree_size": checkpoint.tree_size,
                "root_hash": checkpoint.root_hash,
                "key_id": checkpoint.key_id,
                "signed_at": rfc3339_utc_or_none(checkpoint.timestamp),
                "signed_note": checkpoint.signed_note,
            },
            "anchor": None
            if anchor is None
            else {
                "sink": anchor.sink,
                "tx_id": anchor.tx_id,
                "anchored_hash": anchor.anchored_hash,
                "anchored_at": rfc3339_utc_or_none(anchor.anchored_at),
            },
        }


def integrity_status() -> Integrity:
    run = VerificationRun.objects.select_related("checkpoint").order_by("-finished_at", "-id").first()
    checkpoint = latest_checkpoint()
    anchor = checkpoint.anchors.order_by("-anchored_at", "-id").first() if checkpoint is not None else None
    return Integrity(run, checkpoint, anchor)

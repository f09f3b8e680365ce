"""Write what an outside auditor needs to verify the log offline: entries, checkpoint, public keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from compliance.checkpoints import create_checkpoint
from compliance.models import SigningKeyRecord
from compliance.verification import export_lines, latest_checkpoint


class Command(BaseCommand):
    help = (
        "Write audit-export.jsonl, checkpoint.txt and one public key PEM per signing key into --out; then run "
        "python -m compliance.crypto.verify --entries ... --checkpoint ... --public-key ..."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", type=Path, required=True, help="Folder to write into (created if missing).")
        parser.add_argument(
            "--checkpoint-now",
            action="store_true",
            help="Sign a checkpoint over everything first, so the export is fully covered.",
        )

    def handle(self, *args: Any, out: Path, checkpoint_now: bool = False, **options: Any) -> None:
        if checkpoint_now:
            create_checkpoint()
        checkpoint = latest_checkpoint()
        if checkpoint is None:
            raise CommandError("No checkpoint yet; use --checkpoint-now.")
        out.mkdir(parents=True, exist_ok=True)
        with (out / "audit-export.jsonl").open("w") as handle:
            for line in export_lines():
                handle.write(line + "\n")
        (out / "checkpoint.txt").write_text(checkpoint.signed_note)
        keys = []
        for record in SigningKeyRecord.objects.all():
            path = out / f"public-key-{record.key_id}.pem"
            path.write_text(record.public_pem)
            keys.append(str(path))
        self.stdout.write(
            f"wrote {out}; verify with:\n  python -m compliance.crypto.verify --entries "
            f"{out / 'audit-export.jsonl'} --checkpoint {out / 'checkpoint.txt'} "
            + " ".join(f"--public-key {key}" for key in keys)
        )

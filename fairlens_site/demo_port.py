"""Print the port the demo webhook receiver of this checkout listens on (``make run`` calls this).

Standard library only, so it runs before the virtualenv exists: ``python3 fairlens_site/demo_port.py FILE``.
The port kept in FILE is reused while it is free, so the default endpoint's URL stays the same from one run to
the next; otherwise the system picks a free port, which is saved for next time. A fixed port would collide
with a second checkout (or anything else) on the same machine.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

HOST = "127.0.0.1"


def is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def choose(state_file: Path) -> int:
    """The saved port if it is still free, else a new free one (saved)."""
    try:
        saved = int(state_file.read_text().strip())
    except (OSError, ValueError):
        saved = 0
    if 1024 <= saved <= 65535 and is_free(saved):
        return saved
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port = int(probe.getsockname()[1])
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(f"{port}\n")
    return port


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: demo_port.py STATE_FILE")
    print(choose(Path(sys.argv[1])))  # noqa: T201 - the Makefile reads the port from stdout

"""Signals alerts sends to code above it, which it must not import (docs/architecture.md).

``retraining_requested`` is sent after the transaction that emitted a ``retraining.requested`` event commits,
with ``version_id`` and ``reason``. Receivers decide whether they can retrain that model (the demo app
retrains its own model with reweighing); for every other model the event is the request.
"""

from django.dispatch import Signal

retraining_requested = Signal()

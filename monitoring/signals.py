"""Signals monitoring sends to code above it, which it must not import (docs/architecture.md; NetBox declares
signals low and receives them high the same way).

``check_stored`` is sent inside :func:`monitoring.checks.services.store_check`'s transaction, under the version's row
lock, with ``check`` (the completed :class:`~monitoring.models.FairnessCheck`). Receivers run in that
transaction: what they write (alerts, events, deliveries) commits with the check or not at all, and an error
in one rolls the check back, so a check is never stored without what it says having been applied.

``evidence_resets`` is sent while a check gathers its evidence inputs, with ``model_version_id`` and
``since`` (the chain head's completion time). Each receiver returns the subjects ``(attribute, group,
metric)`` whose evidence starts afresh: the alerts app returns those of alerts resolved since then.

``predictions_stored`` is sent by ingestion once a batch of predictions or labels has committed, with
``model_version``: the checks enqueue a near-real-time check of the version (at most one per debounce period).

``checks_dispatching`` is sent by the beat dispatcher before it enqueues the due checks, so the layers that
act on check results can make sure they are ready (the alerts app creates the default webhook endpoint).
"""

from django.dispatch import Signal

check_stored = Signal()
evidence_resets = Signal()
checks_dispatching = Signal()
predictions_stored = Signal()

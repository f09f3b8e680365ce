"""How a group is written: one place for the two spellings and their inverse.

A single attribute's group is its value (``"Female"``). An intersection's group is a tuple of values in
attribute-name order; rollups, stored check inputs and evidence keys write it as a JSON list
(``'["Female", "Black"]'``), because values may contain the separator, while people read it joined with the
separator (``"Female & Black"``), as attribute names are (``"gender & race"``).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence

from monitoring.constants import INTERSECTION_SEPARATOR


def display_label(group: Hashable) -> str:
    """The group as people read it: ``"Female"`` or ``"Female & Black"``."""
    return INTERSECTION_SEPARATOR.join(group) if isinstance(group, tuple) else str(group)


def stored_label(group: Hashable) -> str:
    """The group as it is stored: its value, or an intersection's values as a JSON list."""
    return intersection_label(group) if isinstance(group, tuple) else str(group)


def intersection_label(values: Sequence[str]) -> str:
    """An intersection's stored label: a JSON list of the values in attribute-name order (unambiguous)."""
    return json.dumps(list(values), ensure_ascii=False)


def group_from_stored(attribute: str, stored: str) -> str | tuple[str, ...]:
    """The inverse of ``stored_label`` for a group of ``attribute`` (an intersection when its name has the
    separator)."""
    return tuple(json.loads(stored)) if INTERSECTION_SEPARATOR in attribute else stored

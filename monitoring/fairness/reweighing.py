"""Reweighing (Kamiran & Calders, 2012): instance weights that make the protected group independent of the label.

Training data in which one group received the favourable label less often teaches a model that gap. Instead of
editing labels, reweighing gives every row of the cell ``(g, y)`` the weight

    w(g, y) = P(g) · P(y) / P(g, y) = (n_g · n_y) / (n · n_gy),

the count that cell would have if group and label were independent, divided by the count it has. Cells that are
rarer than independence predicts (e.g. favourable outcomes of the disadvantaged group) are weighted up, cells
that are more common are weighted down. In the weighted data:

* the weighted share of label ``y`` within every group equals the overall ``P(y)``, so group and label are
  independent (``Σ_{i in g, y_i=y} w_i / Σ_{i in g} w_i = n_y / n``);
* each group keeps its size and the weights sum to ``n`` (``Σ_{g,y} n_g n_y / n = n``), so the weights can be
  passed as ``sample_weight`` without changing a learner's effective regularisation strength.

A cell with ``P(g, y) = 0`` has no rows, so the division by zero is never needed: weights are computed only for
observed cells. Both properties above need every group to have rows with both labels (when both occur at all):
a group whose rows all share one label cannot be reweighted into independence; its rows get the weight ``P(y)``
(as in AIF360), its weighted rate stays 0 or 1 and the total is then below ``n``.

Only the protected attribute and the label are used. The weights remove a dependence between group and *label*;
they do nothing about bias carried by the features (a model that never sees the group can still reproduce a gap
that the features encode), and when the label is already independent of the group every weight is 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from monitoring.fairness.encoding import as_array, check_length, encode_groups
from monitoring.fairness.errors import InvalidParameterError, NaNValueError, NonBinaryLabelError


def _label_codes(labels: np.ndarray) -> np.ndarray:
    """Codes 0/1 for a binary label column of any type; NaN/None and a third value are input errors."""
    if labels.dtype.kind == "b":
        return labels.view(np.uint8).astype(np.intp)
    if labels.dtype.kind in "iu" and labels.min() >= 0 and labels.max() <= 1:
        return labels.astype(np.intp)
    codes, uniques = pd.factorize(labels, use_na_sentinel=True)
    if (codes < 0).any():
        raise NaNValueError("labels", int((codes < 0).sum()))
    if len(uniques) > 2:
        raise NonBinaryLabelError("labels", uniques.tolist())
    return codes.astype(np.intp)


def reweighing_weights(groups: Any, labels: Any) -> np.ndarray:
    """Kamiran & Calders weights ``w_i = P(g_i) P(y_i) / P(g_i, y_i)`` for each row (see the module docstring).

    ``groups`` is the protected attribute (any hashable values, two or more groups allowed) and ``labels`` a
    binary label (0/1, booleans or any two values). Returns a float array of ``len(groups)`` positive weights,
    summing to ``n`` when every group has both labels. Raises :class:`LengthMismatchError` when the lengths
    differ, :class:`NaNValueError` for missing groups or labels, :class:`NonBinaryLabelError` for more than two
    label values and :class:`InvalidParameterError` for empty input.
    """
    group_codes = np.asarray(encode_groups(groups, "groups").codes, dtype=np.intp)
    n = len(group_codes)
    label_array = as_array(labels)
    check_length(label_array, n, "labels")
    if n == 0:
        raise InvalidParameterError("Reweighing needs at least one row; got empty input.", value=0)
    label_codes = _label_codes(label_array)
    n_groups = int(group_codes.max()) + 1
    joint = np.bincount(group_codes * 2 + label_codes, minlength=2 * n_groups).reshape(n_groups, 2)
    expected = np.outer(joint.sum(axis=1), joint.sum(axis=0)) / n  # n_g * n_y / n: the count under independence
    observed = joint[group_codes, label_codes]  # >= 1 for every row, since the row itself is in its cell
    return expected[group_codes, label_codes] / observed

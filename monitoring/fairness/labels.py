"""The label lifecycle: true outcomes arrive late and unevenly, so label-based metrics (EOD, AOD, FPR) are only
as good as the share of predictions that have a label.

For a window's counts ``{attribute: {group: [tp, fp, tn, fn, unlabeled_pos, unlabeled_neg]}}`` this says, per
group, how many predictions have a label (coverage), and among the predicted positives and negatives; whether
the label-based metrics are *provisional* (some compared group below the policy's coverage) or *final*; and
whether coverage differs between the groups of an attribute by more than chance and by a material amount.

Uneven coverage is a finding in itself: when one group's outcomes come back more slowly, its TPR and FPR are
computed from a different (often earlier, or more selective) subset, and EOD can move with no change in the
model. The test is Pearson's chi-square of homogeneity on the labeled / unlabeled table of the compared groups,
at ``UNEVEN_ALPHA``, and the warning also needs a gap of at least ``UNEVEN_GAP`` in coverage: a 1-point gap in a
million predictions is significant and harmless. The warning is shown, not alerted on; it is re-evaluated at
every check, so its level applies to one look, not to the stream.

Label delay (from prediction to label) needs the individual times, so it is a distribution the database reads
(``delay_summary`` summarises one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from scipy import stats

PROVISIONAL, FINAL, NO_LABELS = "provisional", "final", "no_labels"
UNEVEN_ALPHA = 0.01
UNEVEN_GAP = 0.10
LABEL_METRICS = ("EOD", "AOD", "FPR_DIFF")
# Label delay bins in hours: [0, 1), [1, 6), [6, 24), [24, 72), [72, 168), [168, inf)
DELAY_EDGES_HOURS = (0, 1, 6, 24, 72, 168)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def group_coverage(counts: Sequence[int]) -> dict[str, Any]:
    tp, fp, tn, fn, unlabeled_pos, unlabeled_neg = (int(value) for value in counts)
    labeled_pos, labeled_neg = tp + fp, tn + fn
    labeled = labeled_pos + labeled_neg
    n = labeled + unlabeled_pos + unlabeled_neg
    return {
        "n": n,
        "labeled": labeled,
        "coverage": _share(labeled, n),
        "coverage_predicted_positive": _share(labeled_pos, labeled_pos + unlabeled_pos),
        "coverage_predicted_negative": _share(labeled_neg, labeled_neg + unlabeled_neg),
    }


def _homogeneity_p_value(rows: list[tuple[int, int]]) -> float | None:
    """Chi-square test that labeled / unlabeled shares are the same in every row; None when it cannot apply
    (fewer than two rows, or a column that is all zero: every group fully labeled or none labeled)."""
    if len(rows) < 2 or not any(labeled for labeled, _ in rows) or not any(unlabeled for _, unlabeled in rows):
        return None
    statistic, p_value, _, _ = stats.chi2_contingency(rows, correction=False)
    return float(p_value) if math.isfinite(p_value) else None


def label_coverage(
    counts: Mapping[str, Mapping[str, Sequence[int]]], *, final_at: float, min_group_size: int
) -> dict[str, Any]:
    """Coverage per attribute and group, the status of the label-based metrics and the uneven-coverage findings.

    Only groups with at least ``min_group_size`` predictions count towards the status and the test (smaller
    groups are not compared, so their metrics are not reported either)."""
    attributes: dict[str, Any] = {}
    compared_coverages: list[float] = []
    total_n = total_labeled = 0
    uneven: list[str] = []
    for attribute, groups in sorted(counts.items()):
        rows = {group: group_coverage(values) for group, values in sorted(groups.items())}
        compared = {group: row for group, row in rows.items() if row["n"] >= min_group_size}
        coverages = [row["coverage"] for row in compared.values() if row["coverage"] is not None]
        gap = (max(coverages) - min(coverages)) if len(coverages) >= 2 else None
        p_value = _homogeneity_p_value([(row["labeled"], row["n"] - row["labeled"]) for row in compared.values()])
        is_uneven = gap is not None and p_value is not None and gap >= UNEVEN_GAP and p_value < UNEVEN_ALPHA
        if is_uneven:
            uneven.append(attribute)
        attributes[attribute] = {"groups": rows, "gap": gap, "p_value": p_value, "uneven": is_uneven}
        compared_coverages.extend(coverages)
        if not total_n:  # every attribute (and intersection) partitions the same predictions
            total_n = sum(row["n"] for row in rows.values())
            total_labeled = sum(row["labeled"] for row in rows.values())
    lowest = min(compared_coverages) if compared_coverages else None
    if not total_labeled:
        status = NO_LABELS
    elif lowest is not None and lowest >= final_at:
        status = FINAL
    else:
        status = PROVISIONAL
    return {
        "final_at": final_at,
        "coverage": _share(total_labeled, total_n),
        "lowest_group_coverage": lowest,
        "status": status,
        "metrics": list(LABEL_METRICS),
        "attributes": attributes,
        "uneven": uneven,
    }


def delay_summary(delays_hours: Sequence[float]) -> dict[str, Any]:
    """A delay distribution: count, median, 90th percentile and maximum (hours), and counts per delay bin."""
    ordered = sorted(delays_hours)
    bins = [0] * len(DELAY_EDGES_HOURS)
    for value in ordered:
        index = sum(1 for edge in DELAY_EDGES_HOURS[1:] if value >= edge)
        bins[index] += 1

    def quantile(q: float) -> float | None:
        if not ordered:
            return None
        position = q * (len(ordered) - 1)
        low, high = math.floor(position), math.ceil(position)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    return {
        "labeled": len(ordered),
        "median_hours": quantile(0.5),
        "p90_hours": quantile(0.9),
        "max_hours": ordered[-1] if ordered else None,
        "bins": [
            {"from_hours": low, "to_hours": high, "count": count}
            for low, high, count in zip(DELAY_EDGES_HOURS, (*DELAY_EDGES_HOURS[1:], None), bins, strict=True)
        ],
    }

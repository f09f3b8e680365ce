"""An alert's explanation sentence, including one raised by the evidence of earlier hours over a window with
no value of its own (the window has too few rows; the evidence still rules the band out)."""

from __future__ import annotations

from monitoring.alerts.rules import explanation

RESULT = {"threshold": 0.8, "violations": [], "reports": {}}


def test_a_value_in_the_window_is_stated() -> None:
    violation = {"attribute": "gender", "group": "Female", "metric": "SPD", "value": -0.2143, "verdict": "violation"}
    assert explanation(RESULT, violation).startswith("SPD = -0.214 for gender=Female is outside the policy band.")


def test_an_alert_without_a_value_in_the_window_says_where_it_comes_from() -> None:
    for metric in ("SPD", "DIR"):
        violation = {
            "attribute": "gender",
            "group": "Female",
            "metric": metric,
            "value": None,
            "verdict": "insufficient_data",
        }
        text = explanation(RESULT, violation)
        assert text.startswith(f"{metric} for gender=Female cannot be computed from this window's data")
        assert "evidence accumulated over earlier hours" in text

"""Names shared by policies, checks and the API."""

# Comparison metrics a policy can put a band on (each group against the privileged group).
BANDED_METRICS = ("DIR", "SPD", "EOD", "AOD", "FPR_DIFF")
DEFAULT_MIN_GROUP_SIZE = 30
DEFAULT_CONFIDENCE_LEVEL = 0.95

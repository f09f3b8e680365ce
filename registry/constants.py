"""Names shared by policies, checks and the API."""

# Comparison metrics a policy can put a band on (each group against the privileged group).
BANDED_METRICS = ("DIR", "SPD", "EOD", "AOD", "FPR_DIFF")
DEFAULT_MIN_GROUP_SIZE = 30
DEFAULT_CONFIDENCE_LEVEL = 0.95
# Feature types a policy can declare. An identifier feature is pseudonymised, so it is categorical.
FEATURE_TYPES = ("numeric", "categorical")
# Prediction fields (and CSV columns) that a feature may not be named after.
RESERVED_FEATURE_NAMES = ("id", "timestamp", "attributes", "y_pred", "y_true", "score", "features")

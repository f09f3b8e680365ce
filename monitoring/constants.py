"""Fixed parameters of stored data. Changing one needs `manage.py rebuild_rollups`."""

# Score histograms: equal-width bins over [0, 1]; the last bin includes 1.0.
SCORE_BINS = 20
# Rollup buckets are hours (UTC); any window is a sum of whole buckets.
BUCKET_SECONDS = 3600
# Intersection keys join attribute names and values with this separator (e.g. "race&sex", "Black&Female").
INTERSECTION_SEPARATOR = "&"
MAX_ATTRIBUTE_VALUE_LENGTH = 100
MAX_ID_LENGTH = 200
# Ingestion reports at most this many row errors.
MAX_REPORTED_ERRORS = 100
# CSV batches: columns beyond the fixed ones, the policy's attributes and its declared features that a batch
# may carry (a client's export often has a few more; they are dropped), and the most columns in any case.
EXTRA_CSV_COLUMNS = 64
MAX_CSV_COLUMNS = 1000
# No prediction is older than this (the Unix epoch): earlier timestamps are typos or defaults such as 0001-01-01.
EARLIEST_TIMESTAMP = "1970-01-01T00:00:00Z"

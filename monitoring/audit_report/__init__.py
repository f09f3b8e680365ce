"""The audit report: one model version's fairness over a period of whole UTC days, read from the database.

A report covers ``[start 00:00, end + 1 day 00:00)``. Its verdicts come from the period's rollup counts
(``window_counts``) under the policy in force, through the same engine code as the checks
(``reports_from_counts``). Everything the verdicts depend on (the counts, the period, the policy version, model
and version) is kept as the report's ``inputs``, whose SHA-256 lets anyone redo the report exactly. The evidence
bundle is deterministic for unchanged data: it carries no generation time, so its ``bundle_sha256`` is the same
for the page's JSON and CSV downloads and the API's answer to the same request.

``period`` parses the period, ``build`` reads and assembles the report, ``bundle`` writes it as plain data
(JSON, CSV), ``export`` records that it was exported. The pages (``web``) and the API (``monitoring.api``) both
call them.
"""

"""Fairness checks: one window of one model version under its policy, computed, stored once and announced.

``services`` claims, computes and stores a check (and enqueues ingestion-triggered ones); ``analysis`` turns a
window's counts into the stored result; ``evidence`` carries the anytime-valid evidence from check to check;
``selectors`` holds the reads of stored checks. Alerts sit above and receive ``monitoring.signals.check_stored``.
"""

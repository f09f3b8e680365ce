"""Prediction ingestion: parsing and validation, pseudonymisation, storage, rollups."""

"""Shared plumbing, the lowest layer of the apps: it imports no FairLens app (docs/architecture.md)."""

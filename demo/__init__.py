"""Everything that exists for the seed's demo and its scenarios; production code never imports it.

The simulator-backed seed endpoints, the demo prediction stream (``make run``), the demo model's training and
its retraining with reweighing, and the demo commands (train_demo_model, seed_demo, demo_stream,
demo_receiver). It sits above monitoring and below the pages (docs/architecture.md).
"""

"""API plumbing: the error envelope, the exception handler, strict JSON input, pagination and throttling."""

"""One stack in one account and region: configuration, names, the IAM documents, the
resources (one module per kind), the planner that only reads, the executor that writes, and
the app that ties them together."""

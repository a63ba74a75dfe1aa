"""What `up` builds and ships: the handlers' packages, the templates, the workflow's features."""

"""Backends turn rendered objects into infrastructure. Only ``iac.backends.engine`` talks to a cluster."""

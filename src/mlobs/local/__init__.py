"""Run parts of the stack natively (no Docker): Prometheus and Alertmanager from the OS packages."""

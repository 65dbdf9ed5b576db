"""Drift detection: detectors, reference data, the shipper (services) and the exporter."""

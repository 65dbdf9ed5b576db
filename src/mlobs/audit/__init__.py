"""Regulatory audit log for model decisions (SR 11-7, GDPR)."""

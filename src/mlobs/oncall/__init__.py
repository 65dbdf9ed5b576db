"""The on-call receiver (`mlobs serve oncall`): where Alertmanager's webhook notifications land."""

"""Injected serving faults, for proving that an investigation names a latency fault as one.

Off unless MLOBS_FAULT__PREDICT_DELAY_S or MLOBS_FAULT__PREDICT_ERROR_RATIO is set; the reference
stack sets them only for a scenario run (`mlobs.local.scenarios`), never in a deployment's defaults.
"""

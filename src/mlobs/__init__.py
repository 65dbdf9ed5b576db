"""mlobs: observability and audit for ML model services."""

from mlobs.model_info import ModelInfo

__all__ = ["ModelInfo", "instrument"]
__version__ = "0.1.0"


def instrument(app, model_info, **kwargs):
    """Instrument a FastAPI app serving `model_info`; see mlobs.instrument."""
    from mlobs.instrument import instrument as _instrument

    return _instrument(app, model_info, **kwargs)

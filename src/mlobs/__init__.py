"""mlobs: observability and audit for ML model services."""

__version__ = "0.1.0"

# Imported eagerly: a lazy import would let the submodule mlobs.instrument shadow the function.
from mlobs.instrument import instrument  # noqa: E402
from mlobs.model_info import ModelInfo  # noqa: E402

__all__ = ["ModelInfo", "instrument"]

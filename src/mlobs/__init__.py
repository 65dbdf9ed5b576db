"""mlobs: observability and audit for ML model services."""

__version__ = "0.1.0"

__all__ = ["ModelInfo", "instrument"]


def __getattr__(name: str):
    # Lazy, so tools that need only a corner of the library (the audit CLI, a verify worker
    # process) do not pay for importing FastAPI and OpenTelemetry.
    if name == "instrument":
        from mlobs.instrumentation import instrument

        return instrument
    if name == "ModelInfo":
        from mlobs.model_info import ModelInfo

        return ModelInfo
    raise AttributeError(f"module 'mlobs' has no attribute {name!r}")

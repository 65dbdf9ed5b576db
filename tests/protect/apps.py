"""Protected reference services for tests: the real create_app, then protect(), as the lead will wire it."""

from __future__ import annotations

from mlobs.protect import ProtectSettings, hash_key, image_body_limits, protect

# Imported up front: the first instrument() call imports the mlobs.instrument submodule, which then
# shadows the function `mlobs.instrument` for any later `from mlobs import instrument` (see report).
from mlobs_services.credit.service import create_app as credit_app  # noqa: E402
from mlobs_services.sentiment.service import create_app as sentiment_app  # noqa: E402
from mlobs_services.vision.service import create_app as vision_app  # noqa: E402

ALICE_KEY = "mlobs_test-alice-Zq8v3kT1wXyPp0LmN4rS"
BOB_KEY = "mlobs_test-bob-Hc2Jd9FgQwEr7TyUi5Op"
KEYS = {"alice": hash_key(ALICE_KEY), "bob": hash_key(BOB_KEY)}


def auth(key: str = ALICE_KEY) -> dict:
    return {"authorization": f"Bearer {key}"}


def protect_settings(**overrides) -> ProtectSettings:
    return ProtectSettings(**{"api_keys": KEYS, **overrides})


def build(service: str, settings, sinks, ps: ProtectSettings | None = None, **protect_kwargs):
    """(app, protection) for `service` in sentiment / vision / credit."""
    create_app = {"sentiment": sentiment_app, "vision": vision_app, "credit": credit_app}[service]
    if service == "vision":
        protect_kwargs.setdefault("body_limits", image_body_limits(settings))
    app = create_app(settings, configure_logging=False, **sinks.kwargs())
    protection = protect(app, settings, app.state.telemetry, protect_settings=ps or protect_settings(),
                         **protect_kwargs)
    return app, protection


def train_credit(artifacts_dir):
    from mlobs_services.credit import model

    return model.train(artifacts_dir, progress=False)

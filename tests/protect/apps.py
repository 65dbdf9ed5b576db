"""The reference services as they run: create_app, which adds endpoint protection with protect()."""

from __future__ import annotations

from mlobs.protect import ProtectSettings, hash_key
from mlobs_services.credit.service import create_app as credit_app
from mlobs_services.sentiment.service import create_app as sentiment_app
from mlobs_services.vision.service import create_app as vision_app

ALICE_KEY = "mlobs_test-alice-Zq8v3kT1wXyPp0LmN4rS"
BOB_KEY = "mlobs_test-bob-Hc2Jd9FgQwEr7TyUi5Op"
KEYS = {"alice": hash_key(ALICE_KEY), "bob": hash_key(BOB_KEY)}


def auth(key: str = ALICE_KEY) -> dict:
    return {"authorization": f"Bearer {key}"}


def protect_settings(**overrides) -> ProtectSettings:
    return ProtectSettings(**{"api_keys": KEYS, **overrides})


def build(service: str, settings, sinks, ps: ProtectSettings | None = None):
    """(app, protection) for `service` in sentiment / vision / credit."""
    create_app = {"sentiment": sentiment_app, "vision": vision_app, "credit": credit_app}[service]
    settings = settings.model_copy(update={"protect": ps or protect_settings()})
    app = create_app(settings, configure_logging=False, **sinks.kwargs())
    return app, getattr(app.state, "protection", None)

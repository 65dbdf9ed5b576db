"""`mlobs serve NAME`: train if the artifact is missing, then run the service under uvicorn."""

from __future__ import annotations

import logging
import sys

import uvicorn

from mlobs import artifacts, logs, registry
from mlobs.audit.errors import AuditError
from mlobs.faults.middleware import install as install_faults
from mlobs.protect.server import strict_protocol
from mlobs.settings import get_settings

log = logging.getLogger("mlobs.serve")


def serve(name: str, host: str, port: int) -> int:
    settings = get_settings()
    module = registry.load(name)
    model_name = getattr(module, "NAME", None)
    if model_name and artifacts.version_dir(settings.artifacts_dir, model_name) is None:
        print(f"no {model_name} model in {settings.artifacts_dir}: training it first")
        module.train(settings, progress=True)
    try:
        app = module.create_app(settings)
    except AuditError as exc:  # a log it must not write to (a newer format, another program's database)
        print(f"mlobs serve {name}: the audit log cannot be opened: {exc}", file=sys.stderr)
        return 2
    install_faults(app, settings.fault)
    if not model_name:  # a model service's instrument() set up JSON logs; do the same for the others
        logs.install(logs.JsonLogWriter({"service": name}, max_queue=settings.log_queue_size,
                                        max_queue_bytes=settings.log_queue_bytes), settings.log_level)
    # log_config=None keeps uvicorn from replacing the JSON logging the app installed. The strict
    # protocol refuses ambiguous request framing and bounds slow clients (mlobs.protect.server).
    # Trusted proxies are also the peers whose X-Forwarded-For uvicorn believes (None: its default).
    proxies = settings.protect.trusted_proxies or None
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False,
                http=strict_protocol(settings.protect), forwarded_allow_ips=proxies)
    return 0

"""Alertmanager's webhook payload, version 4.

The shape is the one Alertmanager's notify/webhook/webhook.go `Message` sends (an embedded
template.Data plus version, groupKey and truncatedAlerts); it has been version 4 since Alertmanager
0.x and is unchanged in 0.25 and 0.27. Unknown fields are kept, so a newer Alertmanager's additions
survive the round trip to GET /pages.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class WebhookAlert(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str  # noqa: N815 - Alertmanager's field names
    endsAt: str = ""  # noqa: N815
    generatorURL: str = ""  # noqa: N815
    fingerprint: str = ""


class WebhookMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    version: Literal["4"]
    groupKey: str  # noqa: N815
    truncatedAlerts: int = Field(0, ge=0)  # noqa: N815
    status: Literal["firing", "resolved"]
    receiver: str
    groupLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonAnnotations: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    externalURL: str = ""  # noqa: N815
    alerts: list[WebhookAlert]


def kept(message: WebhookMessage, route_severity: str | None, received_at: float) -> dict:
    """A notification as the receiver keeps, journals and lists it."""
    return {"received_at": received_at, "route_severity": route_severity, **message.model_dump(mode="json")}

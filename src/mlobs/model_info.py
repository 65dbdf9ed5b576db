"""What a model service tells the telemetry about the model it serves."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    training_data_hash: str
    code_revision: str
    classes: tuple[str, ...] = ()
    params: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        data = asdict(self)
        data["classes"] = list(self.classes)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "ModelInfo":
        return cls(**{**data, "classes": tuple(data.get("classes", ()))})

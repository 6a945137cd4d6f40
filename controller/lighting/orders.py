"""An override as it arrives as JSON: the body of ``POST /overrides`` (docs/api.md) and the payload
of ``{root}/circuit/{id}/set`` (docs/mqtt.md) are one shape, checked by one model, so a command
the API refuses is refused over MQTT with the same message.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from controller.config import ID_PATTERN
from controller.lighting.records import MAX_OVERRIDE_MIN, OverrideRequest, State
from controller.platform.instants import Instant

TARGET_PATTERN = rf"^(all|(circuit|group):{ID_PATTERN.strip('^$')})$"



class OverrideOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str = Field(pattern=TARGET_PATTERN, examples=["circuit:road-5", "group:main-road",
                                                          "all"])
    state: State
    level: Annotated[int, Field(strict=True, ge=1, le=100)] | None = Field(
        default=None, description="1-100, default 100; ignored when the state is off")
    duration_min: Annotated[int, Field(strict=True, ge=1, le=MAX_OVERRIDE_MIN)] | None = Field(
        default=None, description="give this or until")
    until: Instant | None = Field(
        default=None, description="ISO-8601 with an offset, within a week; or duration_min")
    reason: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_end(self) -> Self:
        if (self.duration_min is None) == (self.until is None):
            raise ValueError("give exactly one of duration_min and until")
        return self

    def request(self) -> OverrideRequest:
        return OverrideRequest(target=self.target, state=self.state, reason=self.reason,
                               level=self.level, duration_min=self.duration_min,
                               until=self.until)

"""The smoke spec: checks, per-service overrides, retry policy; validated at load time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from shipyard.config.documents import decode_utf8, parse_mapping, validate_document
from shipyard.config.model import AbsolutePath
from shipyard.errors import UsageError

DEFAULT_SPEC = Path(__file__).with_name("default.yaml")


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class Retries(_Model):
    attempts: Annotated[int, Field(ge=1, le=100)] = 5
    initial_delay_ms: Annotated[int, Field(ge=0, le=60_000)] = 100
    max_delay_ms: Annotated[int, Field(ge=0, le=300_000)] = 2000


class Check(_Model):
    name: str
    method: Literal["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"] = "GET"
    path: AbsolutePath = "/"
    headers: dict[str, str] = {}
    body: str | None = None
    status: Annotated[int, Field(ge=100, le=599)] = 200
    body_contains: str | None = None
    json_equals: dict[str, Any] = {}
    response_headers: dict[str, str] = {}
    max_latency_ms: Annotated[int, Field(gt=0)] | None = None


class ServiceChecks(_Model):
    checks: list[Check]


class SmokeSpec(_Model):
    retries: Retries = Retries()
    checks: list[Check]
    services: dict[str, ServiceChecks] = {}

    @model_validator(mode="after")
    def _unique_names(self) -> SmokeSpec:
        for group in [self.checks, *(s.checks for s in self.services.values())]:
            names = [c.name for c in group]
            duplicate = next((n for n in names if names.count(n) > 1), None)
            if duplicate:
                raise ValueError(f"check name {duplicate!r} appears twice")
        return self

    def checks_for(self, service: str | None) -> list[Check]:
        if service and service in self.services:
            return self.services[service].checks
        return self.checks


def load_spec(path: Path | None = None, display: str | None = None) -> SmokeSpec:
    """Read and validate a spec; errors name the file and the path inside it, exit 2."""
    path = path or DEFAULT_SPEC
    name = display or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{name}: cannot read the smoke spec ({exc.strerror})") from None
    text = decode_utf8(data, name)
    doc = parse_mapping(text, name, "a mapping with `checks:` (see smoke/default.yaml)")
    return validate_document(SmokeSpec, doc, name)

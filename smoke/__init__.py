"""Post-deployment smoke checks: a YAML spec of HTTP checks, run with retries for warm-up."""

from smoke.runner import SmokeReport, run_smoke
from smoke.spec import SmokeSpec, load_spec

__all__ = ["SmokeReport", "SmokeSpec", "load_spec", "run_smoke"]

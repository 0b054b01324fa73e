"""Stack configuration: the typed model, loading from stacks/, and the Pulumi config bridge."""

from shipyard.config.load import LoadedStack, StackSources, load_stack
from shipyard.config.model import Color, Service, StackConfig

__all__ = ["Color", "LoadedStack", "Service", "StackConfig", "StackSources", "load_stack"]

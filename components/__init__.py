"""Pulumi components shipyard builds every environment from."""

from components.alarms import Alarms, AlarmsArgs
from components.blue_green_service import BlueGreenService, BlueGreenServiceArgs
from components.network import Network, NetworkArgs

__all__ = [
    "Alarms",
    "AlarmsArgs",
    "BlueGreenService",
    "BlueGreenServiceArgs",
    "Network",
    "NetworkArgs",
]

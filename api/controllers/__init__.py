"""HTTP controllers, one per area of the API."""

from .events import EventsController
from .health import HealthController
from .log import LogController
from .organizations import OrganizationsController

__all__ = ["EventsController", "HealthController", "LogController", "OrganizationsController"]

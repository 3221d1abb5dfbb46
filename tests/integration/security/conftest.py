"""Security test fixtures: the seeded two-bank world of the API tests, and the app served."""

from tests.integration.api.conftest import rt, world
from tests.integration.batches.conftest import served

__all__ = ["rt", "served", "world"]

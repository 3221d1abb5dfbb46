"""Security test fixtures: the seeded two-bank world of the API tests."""

from tests.integration.api.conftest import rt, world

__all__ = ["rt", "world"]

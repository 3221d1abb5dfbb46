"""The API world of tests/integration/api, for the personal-data tests."""

from tests.integration.api.conftest import rt, world

__all__ = ["rt", "world"]

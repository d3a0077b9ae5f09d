"""Runtime tests reuse the real server process fixture of the end-to-end suite."""

from tests.e2e.conftest import live_server  # noqa: F401 - a fixture, used by name

"""The local Prolific the Prolific tests talk to (tests/prolific_server.py), and the server's token."""

import pytest

from tests.prolific_server import FakeProlific

TOKEN = "prolific-token-for-tests-0123456789"


@pytest.fixture
def prolific():
    server = FakeProlific(TOKEN)
    yield server
    server.close()


@pytest.fixture
def door(prolific, monkeypatch, settings):
    """A token, so new arrivals are checked at the door by the local Prolific (with a short deadline)."""
    monkeypatch.setenv("PROLIFIC_API_TOKEN", TOKEN)
    monkeypatch.setenv("PROLIFIC_API_URL", prolific.url)
    settings.PROLIFIC_API_TOKEN_SET = True
    settings.PROLIFIC_DOOR_TIMEOUT_S = 0.5
    return prolific

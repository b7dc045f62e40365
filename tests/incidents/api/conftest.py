"""Fixtures for the HTTP API tests: clients signed in as the shared role users."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture
def api_client():
    """A client with nobody signed in."""
    return APIClient()


@pytest.fixture
def client_for():
    """`client_for(user)`: an API client authenticated as `user` (no token round trip)."""

    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def token_client_for(db):
    """`token_client_for(user)`: a client sending `Authorization: Token <key>` for `user`."""

    def make(user) -> APIClient:
        token, _ = Token.objects.get_or_create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make

"""Test clients for tests that log in several staff users in one test.

Every client here is the app's test client (conftest's ``FreshGClient``), which
empties ``g`` before each request, so each request is judged by its own cookies.
"""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from app.models import User
from tests.staff_helpers import PASSWORD, login


def client_for(app: Flask) -> FlaskClient:
    return app.test_client()


def logged_in(app: Flask, user: User | None, password: str = PASSWORD) -> FlaskClient:
    """A client logged in as ``user`` (anonymous for None)."""
    client = client_for(app)
    if user is not None:
        response = login(client, user.email, password)
        assert response.status_code == 302, response.get_data(as_text=True)
    return client

"""The staff blueprint object, shared by the page modules of this package."""

from flask import Blueprint

bp = Blueprint("staff", __name__)

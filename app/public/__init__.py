"""Public pages: the event list, an event with its sign-up form, the personal link, and
the pages a public body must publish (``legal_pages``)."""

from . import (
    legal_pages,  # noqa: F401  (its routes, on the same blueprint)
    personal_pages,  # noqa: F401  (its views join the blueprint)
    team_pages,  # noqa: F401  (the team link's views)
)
from .views import bp

__all__ = ["bp"]

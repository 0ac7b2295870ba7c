"""Public pages: the event list, an event with its sign-up form, the personal link."""

from .views import bp

__all__ = ["bp"]

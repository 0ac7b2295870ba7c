"""Public pages: the event list, an event with its sign-up form, the personal link, the
pages a public body must publish (``legal_pages``), and the listing's feeds, calendar
subscription and embeddable list (``feed_pages``)."""

from . import (
    evaluation_pages,  # noqa: F401  (evaluations, certificates and their check)
    feed_pages,  # noqa: F401  (feeds, the calendar subscription, the embeddable list)
    legal_pages,  # noqa: F401  (its routes, on the same blueprint)
    personal_pages,  # noqa: F401  (its views join the blueprint)
    privacy_pages,  # noqa: F401  (a person's own data: a copy, erasure)
    subscription_pages,  # noqa: F401  (subscriptions to new events, unsubscribe)
    team_pages,  # noqa: F401  (the team link's views)
)
from .views import bp

__all__ = ["bp"]

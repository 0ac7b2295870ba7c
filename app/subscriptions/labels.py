"""What a subscription asks for, in words: its frequency's name and its filters in order
(for its pages and mails; the labels follow the language being rendered)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..models import EventKind, Organisation, Subscription, SubscriptionFrequency

FREQUENCY_LABELS = {
    SubscriptionFrequency.DAILY: _l("Every day"),
    SubscriptionFrequency.WEEKLY: _l("Once a week"),
}


def frequency_label(frequency: SubscriptionFrequency | str) -> str:
    return str(FREQUENCY_LABELS[SubscriptionFrequency(frequency)])


def kinds_of(subscription: Subscription) -> list[EventKind]:
    """The kinds asked for, in the kinds' own order (empty: every kind)."""
    chosen = {EventKind(row.kind) for row in subscription.kinds}
    return [kind for kind in EventKind if kind in chosen]


def organisations_of(subscription: Subscription) -> list[Organisation]:
    """The organisers asked for, in the admins' order (empty: every organiser)."""
    return sorted(
        (row.organisation for row in subscription.organisations),
        key=lambda org: (org.sort_order, org.name),
    )


def template_helpers() -> dict:
    """What the subscription templates (pages and mails) call."""
    return {
        "frequency_label": frequency_label,
        "subscription_kinds": kinds_of,
        "subscription_organisations": organisations_of,
    }

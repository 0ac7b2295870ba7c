"""Subscriptions to new events, without an account: subscribe, confirm (double opt-in),
the subscriber's own page (change, unsubscribe) and one-click unsubscribe (RFC 8058).

The personal pages are private (never cached) and show only their owner's data. The
unsubscribe URL (in every digest and announcement, and in their ``List-Unsubscribe``
header) answers a GET with a page and a button, and a POST by unsubscribing at once: that
POST needs no CSRF token and no cookie (mail programs send ``List-Unsubscribe=One-Click``
from their own servers), so it alone is exempt from CSRF; the token is its only key, and
its answer sets no cookie.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..accounts.organisations import active_organisations
from ..core.errors import NotFound, Refused, on_refusal_return_to
from ..core.extensions import csrf, limiter
from ..core.form_base import refuse_onto
from ..core.i18n import current_language
from ..core.security import private
from ..models import Subscription
from ..subscriptions import labels, subscribing
from .forms import ConfirmForm
from .subscription_forms import ChoiceForm, SubscribeForm
from .views import bp


def _render(template: str, status: int = 200, **context):
    return render_template(
        template,
        unconfirmed_days=int(current_app.config["SUBSCRIPTION_UNCONFIRMED_DAYS"]),
        **labels.template_helpers(),
        **context,
    ), status


def _subscription_or_404(token: str) -> Subscription:
    subscription = subscribing.by_manage_token(token)
    if subscription is None:
        raise NotFound()
    return subscription


@bp.route("/subscriptions", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["SUBSCRIPTION_RATE_LIMIT"], methods=["POST"])
def subscribe():
    form = SubscribeForm()
    form.fill_choices(active_organisations())
    if request.method == "GET":
        return _render("public/subscribe.html", form=form)
    if form.validate():
        try:
            subscribing.subscribe(form.email.data, form.choice(), current_language())
        except Refused as refusal:
            refuse_onto(form, refusal)
        else:
            # The same answer whether or not the address subscribes already.
            flash(
                _("We have sent an email to %(email)s. Follow the link in it to start your subscription.",
                  email=form.email.data.strip().lower()),
                "success",
            )
            return redirect(url_for("public.subscription_sent"), 303)
    return _render("public/subscribe.html", 400, form=form)


@bp.get("/subscriptions/sent")
@private
def subscription_sent():
    return _render("public/subscription_sent.html")


@bp.route("/subscriptions/confirm/<confirm_token>", methods=["GET", "POST"])
@private
def subscription_confirm(confirm_token: str):
    """GET: what is asked for, and a button (a link scanner fetching the link confirms
    nothing); POST from that page: consent given."""
    subscription = subscribing.by_confirm_token(confirm_token)
    if subscription is None:
        return _render(
            "public/link_invalid.html",
            404,
            message=_(
                "This link no longer works: a subscription that is not confirmed within "
                "%(days)d days is deleted. You are welcome to subscribe again.",
                days=int(current_app.config["SUBSCRIPTION_UNCONFIRMED_DAYS"]),
            ),
        )
    if subscription.confirmed_at is not None:
        return redirect(url_for("public.subscription", subscription_token=subscription.manage_token), 303)
    if request.method == "GET":
        return _render("public/subscription_confirm.html", subscription=subscription, form=ConfirmForm())
    on_refusal_return_to(url_for("public.subscription_confirm", confirm_token=confirm_token))
    if not ConfirmForm().validate_on_submit():
        raise Refused(_("Send the form again from the confirmation page."))
    confirmed = subscribing.confirm(confirm_token)
    flash(_("Your subscription has started. The first email comes when there are new events."), "success")
    return redirect(url_for("public.subscription", subscription_token=confirmed.manage_token), 303)


def _choice_form(subscription: Subscription) -> ChoiceForm:
    form = ChoiceForm(
        formdata=None,
        data={
            "kinds": [kind.value for kind in labels.kinds_of(subscription)],
            "organisations": [org.id for org in labels.organisations_of(subscription)],
            "frequency": subscription.frequency.value,
        },
    )
    form.fill_choices(active_organisations())
    return form


@bp.get("/subscriptions/<subscription_token>")
@private
def subscription(subscription_token: str):
    subscription = _subscription_or_404(subscription_token)
    return _render(
        "public/subscription.html", subscription=subscription, form=_choice_form(subscription)
    )


@bp.post("/subscriptions/<subscription_token>")
@private
def subscription_change(subscription_token: str):
    subscription = _subscription_or_404(subscription_token)
    form = ChoiceForm()
    form.fill_choices(active_organisations())
    if form.validate():
        try:
            subscribing.change(subscription_token, form.choice())
        except Refused as refusal:
            refuse_onto(form, refusal)
        else:
            flash(_("Your subscription is changed."), "success")
            return redirect(url_for("public.subscription", subscription_token=subscription_token), 303)
    return _render("public/subscription.html", 400, subscription=subscription, form=form)


@bp.route("/subscriptions/<subscription_token>/unsubscribe", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: the one-click POST comes without a token or cookie
@private
def subscription_unsubscribe(subscription_token: str):
    """GET: a page with one button. POST (the button, or a mail program's one-click
    ``List-Unsubscribe=One-Click``): the subscription is deleted, and the answer is the
    same page saying so, never a redirect; unsubscribing twice is not an error."""
    if request.method == "GET":
        subscription = subscribing.by_manage_token(subscription_token)
        return _render(
            "public/unsubscribe.html",
            200 if subscription is not None else 404,
            subscription=subscription,
            done=False,
        )
    subscribing.unsubscribe(subscription_token)
    return _render("public/unsubscribe.html", subscription=None, done=True)

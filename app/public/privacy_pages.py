"""A person's own data from the personal link: a copy of it (JSON), and erasing it all.

Both start on the personal page and continue from a link mailed to the registration's
address (``privacy.notices`` says why): ``/r/<token>/my-data`` mails the download link,
``/r/data/<link>/kvarn-data.json`` is the download; ``/r/<token>/erase`` mails the erasure
link, ``/r/erase/<link>`` says what erasing does and erases on its button (POST only: a
mail program that fetches the link erases nothing); once used, the link says that the
registrations are erased. Every page here is private.
"""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..core.errors import Refused, on_refusal_return_to
from ..core.security import private
from ..privacy import erasure, links, own_data
from .forms import ConfirmForm
from .personal_pages import registration_or_404
from .views import bp


def _link_invalid(refusal: links.LinkRefused):
    return render_template("public/link_invalid.html", message=refusal.message), 410


def _confirmed_form() -> None:
    if not ConfirmForm().validate_on_submit():
        raise Refused(_("Send the form again from the confirmation page."))


@bp.route("/r/<token>/my-data", methods=["GET", "POST"])
@private
def own_data_request(token: str):
    """GET: what the copy holds and where the link goes; POST: mail the link."""
    registration = registration_or_404(token)
    if request.method == "GET":
        return render_template(
            "public/privacy_own_data.html",
            registration=registration,
            hours=links.hours(),
            form=ConfirmForm(),
        )
    on_refusal_return_to(url_for("public.own_data_request", token=token))
    _confirmed_form()
    address = own_data.request_link(token)
    flash(
        _("We have sent a link to %(email)s. Your data downloads from it for %(hours)d hours.",
          email=address, hours=links.hours()),
        "success",
    )
    return redirect(url_for("public.manage", token=token), 303)


@bp.get("/r/data/<data_link>/kvarn-data.json")
@private
def own_data_download(data_link: str):
    try:
        filename, data = own_data.download(data_link)
    except links.LinkRefused as refusal:
        return _link_invalid(refusal)
    return Response(
        data,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/r/<token>/erase", methods=["GET", "POST"])
@private
def erasure_request(token: str):
    """GET: what erasing means; POST: mail the link that confirms it."""
    registration = registration_or_404(token)
    if request.method == "GET":
        return render_template(
            "public/privacy_erase.html",
            registration=registration,
            hours=links.hours(),
            form=ConfirmForm(),
        )
    on_refusal_return_to(url_for("public.erasure_request", token=token))
    _confirmed_form()
    address = erasure.request(token)
    flash(
        _("We have sent a link to %(email)s. Nothing is erased until you confirm from it.", email=address),
        "success",
    )
    return redirect(url_for("public.manage", token=token), 303)


@bp.route("/r/erase/<erasure_link>", methods=["GET", "POST"])
@private
def erasure_confirm(erasure_link: str):
    """GET (the link in the mail): what will be erased, and a button; POST: erase."""
    try:
        if request.method == "GET":
            return render_template(
                "public/privacy_erase_confirm.html",
                preview=erasure.preview(erasure_link),
                erasure_link=erasure_link,
                form=ConfirmForm(),
            )
        on_refusal_return_to(url_for("public.erasure_confirm", erasure_link=erasure_link))
        _confirmed_form()
        outcome = erasure.confirm(erasure_link)
    except links.LinkUsed:
        return render_template("public/privacy_erased.html", outcome=None)
    except links.LinkRefused as refusal:
        return _link_invalid(refusal)
    return render_template("public/privacy_erased.html", outcome=outcome)

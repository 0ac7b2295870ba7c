"""After the course, for the person: the evaluation link (/evaluations/<token>), the
certificate from the personal link (/r/<token>/certificate.pdf) and the public page that
checks a certificate's code (/certificates/verify).

The evaluation form is built from the evaluation's own questions: a fieldset with a
legend and radio buttons 1–5 (and "no answer") per rating, a text area per free-text
question, and the box that gives the person's organisation with the answers. The link
answers once (``evaluations.answers``); every page here is private (never cached).
"""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, RadioField, TextAreaField
from wtforms.validators import Optional

from ..core.errors import Refused
from ..core.form_base import KvarnForm, at_most, multi_line, refuse_onto
from ..core.i18n import current_language
from ..core.security import private
from ..evaluations import answers, certificates
from ..evaluations.questions import RATING
from .personal_pages import registration_or_404
from .views import bp

#: The radio buttons of a rating: "no answer" first (chosen until the person picks one).
RATING_CHOICES = [
    ("", _l("No answer")),
    ("1", _l("1 – poor")),
    ("2", "2"),
    ("3", "3"),
    ("4", "4"),
    ("5", _l("5 – excellent")),
]


class _AnswerForm(KvarnForm):
    give_organisation = BooleanField()


def answer_form(page: answers.AnswerPage):
    """A form with one field per question, named ``q<question id>``."""

    class AnswerForm(_AnswerForm):
        pass

    for question in page.questions:
        if question.kind == RATING:
            field = RadioField(question.text, choices=RATING_CHOICES, default="", validators=[Optional()])
        else:
            field = TextAreaField(
                question.text, filters=[multi_line], validators=[at_most(answers.TEXT_ANSWER_MAX)]
            )
        setattr(AnswerForm, f"q{question.id}", field)
    form = AnswerForm()
    form.give_organisation.label.text = _(
        "Give my organisation (%(organisation)s) with my answers", organisation=page.organisation.name
    )
    return form


def _given(page: answers.AnswerPage, form) -> answers.Given:
    ratings, texts = {}, {}
    for question in page.questions:
        value = form[f"q{question.id}"].data
        if question.kind == RATING:
            ratings[question.id] = int(value) if value else None
        else:
            texts[question.id] = value or ""
    return answers.Given(ratings, texts, bool(form.give_organisation.data))


def _done(page: answers.AnswerPage, status: int = 200):
    return render_template("public/evaluation_done.html", page=page, event=page.event), status


@bp.route("/evaluations/<evaluation_token>", methods=["GET", "POST"])
@private
def evaluation(evaluation_token: str):
    page = answers.page(evaluation_token)
    if page.answered:
        return _done(page, 409 if request.method == "POST" else 200)
    if not page.open:
        return render_template("public/evaluation_closed.html", page=page, event=page.event), (
            409 if request.method == "POST" else 200
        )
    if request.method == "GET":
        form = answer_form(page)
        return render_template("public/evaluation.html", page=page, event=page.event, form=form)
    form = answer_form(page)
    if form.validate():
        try:
            answers.answer(evaluation_token, _given(page, form))
        except Refused as refusal:
            if refusal.code == answers.ALREADY:
                return _done(page, 409)
            refuse_onto(form, refusal)
        else:
            flash(_("Thank you for your answers!"), "success")
            return redirect(url_for("public.evaluation", evaluation_token=evaluation_token), 303)
    return render_template("public/evaluation.html", page=page, event=page.event, form=form), 400


@bp.get("/r/<token>/certificate.pdf")
@private
def certificate(token: str):
    """The person's certificate of attendance, when they qualify (else back to their page)."""
    registration_or_404(token)
    try:
        issued = certificates.for_download(token)
    except Refused as refusal:
        flash(str(refusal.message), "info")
        return redirect(url_for("public.manage", token=token), 303)
    return Response(
        certificates.pdf(issued, current_language()),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{certificates.filename(issued)}"'},
    )


@bp.get("/certificates/verify")
def certificate_verify():
    """Anyone may check a certificate's code: valid (for whom and what) or not valid."""
    code = request.args.get("code", "")[:64].strip()
    found = certificates.verify(code) if code else None
    return render_template(
        "public/certificate_verify.html", code=code, found=found, checked=bool(code)
    )

"""The evaluation of an event, for staff: organisers edit the questions (until the
invitations go out) and the share of sessions a certificate needs, and follow the
sending; everyone with a staff account sees the summary they may see and downloads it
(organisers: every answer; coordinators: their own organisation's, in groups of at least
``EVALUATION_MIN_GROUP``, once answering has closed; ``evaluations.summary``)."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import BooleanField, FieldList, Form, FormField, SelectField, StringField
from wtforms.validators import Optional

from ..accounts.access import roles_required
from ..accounts.roles import ALL_STAFF, ORGANISERS
from ..core.errors import NotFound, Refused, on_refusal_return_to
from ..core.extensions import db
from ..core.form_base import KvarnForm, at_most, one_line, refuse_onto
from ..evaluations import certificates, invitations, questions, summary
from ..events import listing
from ..models import Event
from ..reporting.exports import Viewer, visible_to
from .blueprint import bp


class QuestionEntry(Form):
    kind = SelectField(
        _l("Kind of answer"),
        choices=[(questions.RATING, _l("Rating 1–5")), (questions.TEXT, _l("Free text"))],
        default=questions.RATING,
    )
    text = StringField(_l("Question"), filters=[one_line], validators=[at_most(questions.TEXT_MAX)])
    remove = BooleanField(_l("Remove this question"))


class QuestionsForm(KvarnForm):
    enabled = BooleanField(_l("Send an evaluation after the last session"))
    questions = FieldList(FormField(QuestionEntry), min_entries=1, max_entries=questions.QUESTIONS_MAX)


def _share_choices() -> list[tuple[str, str]]:
    return [("none", _("No certificates"))] + [
        (f"{share:.2f}", certificates.share_label(share)) for share in certificates.SHARES
    ]


class CertificateForm(KvarnForm):
    share = SelectField(_l("A certificate of attendance needs"), validators=[Optional()])


def _questions_form(event: Event, evaluation) -> QuestionsForm:
    current = questions.current_questions(event)
    return QuestionsForm(
        formdata=None,
        data={
            "enabled": evaluation.enabled if evaluation is not None else True,
            "questions": [{"kind": q.kind, "text": q.text} for q in current],
        },
    )


def _certificate_form(event: Event, formdata=None) -> CertificateForm:
    share = event.certificate_share
    form = CertificateForm(
        formdata=formdata, data={"share": f"{share:.2f}" if share is not None else "none"}
    )
    form.share.choices = _share_choices()
    return form


def _page(event: Event, form: QuestionsForm | None = None, share_form=None, status: int = 200):
    evaluation = questions.of_event(event.id)
    editable = questions.is_editable(evaluation)
    return render_template(
        "staff/events/evaluation.html",
        event=event,
        evaluation=evaluation,
        editable=editable,
        form=form or _questions_form(event, evaluation),
        share_form=share_form or _certificate_form(event),
        fixed=questions.current_questions(event),
        progress=invitations.progress(evaluation),
        kind_label=questions.kind_label,
        share_label=certificates.share_label,
    ), status


@bp.get("/events/<int:event_id>/evaluation")
@roles_required(*ORGANISERS)
def event_evaluation(event_id: int):
    return _page(listing.any_event(event_id))


@bp.post("/events/<int:event_id>/evaluation/questions")
@roles_required(*ORGANISERS)
def event_evaluation_questions(event_id: int):
    event = listing.any_event(event_id)
    on_refusal_return_to(url_for("staff.event_evaluation", event_id=event.id))
    if "reset" in request.form:
        questions.reset(event.id, current_user.id)
        flash(_("The default questions are back."), "success")
        return redirect(url_for("staff.event_evaluation", event_id=event.id), 303)
    form = QuestionsForm()
    if "add_question" in request.form:
        if len(form.questions) < form.questions.max_entries:
            form.questions.append_entry({"kind": questions.RATING, "text": ""})
        return _page(event, form=form)
    if not form.validate():
        return _page(event, form=form, status=400)
    kept = [
        questions.Question(entry.form.kind.data, entry.form.text.data or "")
        for entry in form.questions
        if not entry.form.remove.data
    ]
    try:
        questions.save(event.id, current_user.id, kept, bool(form.enabled.data))
    except Refused as refusal:
        refuse_onto(form, refusal)
        return _page(event, form=form, status=400)
    flash(_("The evaluation is saved."), "success")
    return redirect(url_for("staff.event_evaluation", event_id=event.id), 303)


@bp.post("/events/<int:event_id>/evaluation/certificate")
@roles_required(*ORGANISERS)
def event_evaluation_certificate(event_id: int):
    event = listing.any_event(event_id)
    form = _certificate_form(event, formdata=request.form)
    if not form.validate():
        return _page(event, share_form=form, status=400)
    value = form.share.data
    try:
        certificates.set_share(event.id, current_user.id, None if value == "none" else float(value))
    except Refused as refusal:
        refuse_onto(form, refusal)
        return _page(event, share_form=form, status=400)
    flash(_("The rule for certificates is saved."), "success")
    return redirect(url_for("staff.event_evaluation", event_id=event.id), 303)


def _event_or_404(event_id: int) -> tuple[Event, Viewer]:
    viewer = Viewer.of(current_user)
    event = db.session.get(Event, event_id)
    if event is None or not visible_to(viewer, event):
        raise NotFound()
    return event, viewer


@bp.get("/events/<int:event_id>/evaluation/summary")
@roles_required(*ALL_STAFF)
def event_evaluation_summary(event_id: int):
    event, viewer = _event_or_404(event_id)
    found = (
        summary.for_organiser(event)
        if viewer.sees_everyone
        else summary.for_coordinator(event, viewer.organisation_id)
    )
    return render_template(
        "staff/events/evaluation_summary.html",
        event=event,
        viewer=viewer,
        summary=found,
        minimum=summary.min_group(),
    )


def _download(event_id: int, fmt: str) -> Response:
    event, viewer = _event_or_404(event_id)
    try:
        export = summary.export(event.id, viewer.user_id, viewer.sees_everyone, viewer.organisation_id, fmt)
    except Refused as refusal:  # a link followed before there is anything to download
        flash(str(refusal.message), "info")
        return redirect(url_for("staff.event_evaluation_summary", event_id=event.id), 303)
    return Response(
        export.data,
        mimetype=export.mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "Cache-Control": "no-store",
        },
    )


@bp.get("/events/<int:event_id>/evaluation.csv")
@roles_required(*ALL_STAFF)
def event_evaluation_csv(event_id: int):
    return _download(event_id, "csv")


@bp.get("/events/<int:event_id>/evaluation.xlsx")
@roles_required(*ALL_STAFF)
def event_evaluation_xlsx(event_id: int):
    return _download(event_id, "xlsx")

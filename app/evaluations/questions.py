"""An event's evaluation questions: the default set, and editing them before sending.

The rule this module owns: the questions of an evaluation can change only until its
first invitations are queued (``Evaluation.sent_at``); from then on every answer is to
the same questions. A question is a rating from 1 to 5 or a free text; an evaluation
has 1 to ``QUESTIONS_MAX`` of them. A new evaluation starts from the default set in the
event's language.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..audit import entries as audit
from ..core.database import write_transaction
from ..core.errors import Refused
from ..core.extensions import db
from ..core.i18n import in_language
from ..core.text import one_line
from ..models import Evaluation, EvaluationQuestion, Event
from ..registrations.locking import lock_event

RATING = "rating"
TEXT = "text"
KINDS = (RATING, TEXT)
#: The scale of a rating question.
RATINGS = (1, 2, 3, 4, 5)
QUESTIONS_MAX = 20
TEXT_MAX = 300


@dataclass(frozen=True)
class Question:
    kind: str
    text: str


def default_questions(locale: str) -> list[Question]:
    """The default set, in ``locale`` (the event's language)."""
    with in_language(locale):
        return [
            Question(RATING, _("Overall, how satisfied are you with the event?")),
            Question(RATING, _("How useful is what you learned for your work?")),
            Question(RATING, _("How well did the content match what you expected?")),
            Question(RATING, _("How would you rate the course leader or speaker?")),
            Question(RATING, _("How well did the venue and the practical arrangements work?")),
            Question(TEXT, _("What was best?")),
            Question(TEXT, _("What could be better?")),
        ]


def kind_label(kind: str) -> str:
    return str({RATING: _l("Rating 1–5"), TEXT: _l("Free text")}.get(kind, kind))


def of_event(event_id: int) -> Evaluation | None:
    """The event's evaluation, if it has one yet (read only)."""
    return db.session.scalar(sa.select(Evaluation).where(Evaluation.event_id == event_id))


def current_questions(event: Event) -> list[Question]:
    """What the evaluation of ``event`` asks, or would ask if it were sent now."""
    evaluation = of_event(event.id)
    if evaluation is None:
        return default_questions(event.language or "sv")
    return [Question(q.kind, q.text) for q in evaluation.questions]


def is_editable(evaluation: Evaluation | None) -> bool:
    return evaluation is None or evaluation.sent_at is None


def _add_questions(evaluation: Evaluation, questions: list[Question]) -> None:
    for position, question in enumerate(questions, start=1):
        evaluation.questions.append(
            EvaluationQuestion(position=position, kind=question.kind, text=question.text)
        )


def ensure(event: Event) -> Evaluation:
    """The event's evaluation, made with the default questions if it has none. Inside
    the caller's write transaction, with the event locked."""
    evaluation = of_event(event.id)
    if evaluation is None:
        evaluation = Evaluation(event_id=event.id, enabled=True)
        _add_questions(evaluation, default_questions(event.language or "sv"))
        db.session.add(evaluation)
        db.session.flush()
    return evaluation


def cleaned(questions: list[Question]) -> list[Question]:
    """The questions as they are kept: one line each, empty ones left out; refused when
    none is left, when there are too many, or for an unknown kind or a too long text."""
    kept = []
    for question in questions:
        text = one_line(question.text or "").strip()
        if not text:
            continue
        if question.kind not in KINDS:
            raise Refused(_l("Choose the kind of every question."), field="questions")
        if len(text) > TEXT_MAX:
            raise Refused(
                _l("Use at most %(max)d characters.", max=TEXT_MAX), field="questions"
            )
        kept.append(Question(question.kind, text))
    if not kept:
        raise Refused(_l("An evaluation needs at least one question."), field="questions")
    if len(kept) > QUESTIONS_MAX:
        raise Refused(
            _l("An evaluation has at most %(max)d questions.", max=QUESTIONS_MAX),
            field="questions",
        )
    return kept


def _refuse_if_sent(evaluation: Evaluation | None) -> None:
    if not is_editable(evaluation):
        raise Refused(
            _l("The evaluation has been sent: its questions can no longer change.")
        )


def save(event_id: int, user_id: int, questions: list[Question], enabled: bool) -> Evaluation:
    """Replace the questions of the event's evaluation and say whether it is sent at all.
    Refused once the invitations have gone out. Audited as "evaluation.questions"."""
    kept = cleaned(questions)

    def work() -> Evaluation:
        event = lock_event(event_id)
        evaluation = of_event(event.id)
        _refuse_if_sent(evaluation)
        if evaluation is None:
            evaluation = Evaluation(event_id=event.id)
            db.session.add(evaluation)
        evaluation.enabled = enabled
        evaluation.questions.clear()
        db.session.flush()
        _add_questions(evaluation, kept)
        audit.record(
            user_id,
            "evaluation.questions",
            event,
            {
                "questions": len(kept),
                "ratings": sum(1 for q in kept if q.kind == RATING),
                "enabled": enabled,
            },
        )
        return evaluation

    return write_transaction(work)


def reset(event_id: int, user_id: int) -> Evaluation:
    """Back to the default questions (in the event's language), before sending."""
    event = db.session.get(Event, event_id)
    locale = (event.language if event is not None else None) or "sv"
    evaluation = of_event(event_id)
    enabled = evaluation.enabled if evaluation is not None else True
    return save(event_id, user_id, default_questions(locale), enabled)

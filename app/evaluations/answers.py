"""Answering an evaluation: a personal link answers once, and the answer cannot be
joined to the person.

The rules this module owns:

- A link (``EvaluationInvitation.token``) answers once: the invitation row is locked,
  checked unused and marked ``used`` in the same transaction that stores the answer;
  a second answer is refused ("already answered"). Answers are taken while the
  evaluation is open (``invitations.is_open``).
- The stored answer (``evaluation_answer`` and its items) holds the evaluation, the
  ratings and texts, and the person's organisation only if they ticked the box. It has
  no registration, email, token or time column, and a random key (no insertion order
  to match against anything). The invitation records only *that* it was used.
- Answering writes nothing else: no audit entry, no mail, no log line. Any of those
  would carry the moment of answering next to the person.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..core.database import write_transaction
from ..core.errors import NotFound, Refused
from ..core.extensions import db
from ..core.text import multi_line
from ..models import (
    Evaluation,
    EvaluationAnswer,
    EvaluationAnswerItem,
    EvaluationInvitation,
    EvaluationQuestion,
    Event,
    Organisation,
)
from . import invitations, questions

TEXT_ANSWER_MAX = 4000
ALREADY = "answered"
CLOSED = "closed"


def by_token(token: str, lock: bool = False) -> EvaluationInvitation | None:
    if not token or len(token) > 64:
        return None
    query = sa.select(EvaluationInvitation).where(EvaluationInvitation.token == token)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


@dataclass(frozen=True)
class AnswerPage:
    """What the public page shows for one link."""

    evaluation: Evaluation
    event: Event
    questions: list[EvaluationQuestion]
    organisation: Organisation
    answered: bool
    open: bool


def page(token: str) -> AnswerPage:
    """The evaluation a link opens; ``NotFound`` for an unknown link or an evaluation the
    organiser turned off."""
    invitation = by_token(token)
    if invitation is None or not invitation.evaluation.enabled:
        raise NotFound()
    evaluation = invitation.evaluation
    return AnswerPage(
        evaluation=evaluation,
        event=evaluation.event,
        questions=list(evaluation.questions),
        organisation=invitation.registration.organisation,
        answered=invitation.used,
        open=invitations.is_open(evaluation),
    )


@dataclass(frozen=True)
class Given:
    """What a person sent: ratings and texts by question id, and the consent."""

    ratings: dict[int, int | None]
    texts: dict[int, str]
    give_organisation: bool = False


def _items(evaluation: Evaluation, given: Given) -> list[EvaluationAnswerItem]:
    items = []
    for question in evaluation.questions:
        if question.kind == questions.RATING:
            rating = given.ratings.get(question.id)
            if rating is None:
                continue
            if rating not in questions.RATINGS:
                raise Refused(_l("Choose a rating from 1 to 5."), field=f"q{question.id}")
            items.append(EvaluationAnswerItem(question_id=question.id, rating=rating))
        else:
            text = multi_line(given.texts.get(question.id) or "")
            if not text:
                continue
            if len(text) > TEXT_ANSWER_MAX:
                raise Refused(
                    _l("Use at most %(max)d characters.", max=TEXT_ANSWER_MAX),
                    field=f"q{question.id}",
                )
            items.append(EvaluationAnswerItem(question_id=question.id, text=text))
    if not items:
        raise Refused(_l("Answer at least one question before you send."))
    return items


def answer(token: str, given: Given) -> None:
    """Store one answer for the link ``token`` and spend the link, in one transaction.

    Refused (``code`` "answered") when the link was used, ("closed") when answering is
    over, and when nothing was answered. Records nothing but the answer and ``used``.
    """

    def work() -> None:
        invitation = by_token(token, lock=True)
        if invitation is None or not invitation.evaluation.enabled:
            raise NotFound()
        evaluation = invitation.evaluation
        if invitation.used:
            raise Refused(_l("This evaluation has already been answered with your link."), code=ALREADY)
        if not invitations.is_open(evaluation):
            raise Refused(_l("The evaluation is closed: answers are no longer taken."), code=CLOSED)
        items = _items(evaluation, given)
        stored = EvaluationAnswer(
            evaluation_id=evaluation.id,
            organisation_id=(
                invitation.registration.organisation_id if given.give_organisation else None
            ),
        )
        stored.items.extend(items)
        db.session.add(stored)
        invitation.used = True

    write_transaction(work)

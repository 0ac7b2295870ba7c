"""What staff see of the answers: averages, distributions, free texts; per organisation;
and the exports (CSV, XLSX).

The rules this module owns (``EVALUATION_MIN_GROUP``, default 3, is the minimum group):

- No figure is ever shown for fewer answers than the minimum group: the whole summary
  waits until that many people have answered, and a rating question (or a row per
  organisation) that fewer answered shows only how many did.
- Organisers see every answer (averages, distributions, free texts) while answering is
  open. Figures per organisation appear only once answering has closed (a view that
  changes with each answer would show the newest answer as the difference), and only
  for organisations with at least the minimum group; the others, and answers without an
  organisation, are counted together as "other". If that rest is non-empty but smaller
  than the minimum group, the smallest organisations shown join it until it is not (so
  the rest cannot be worked out as the total minus the rows shown).
- A coordinator sees the summary of their own organisation's answers only, under the
  same two conditions (closed, at least the minimum group), free texts included.
- Free texts are listed in alphabetical order, never in the order they came in.
- Every export is audited ("evaluation.export") before the file is handed out.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from ..audit import entries as audit
from ..core import clock
from ..core.database import write_transaction
from ..core.errors import NotFound, Refused
from ..core.extensions import db
from ..core.i18n import format_moment
from ..core.text import printable
from ..models import (
    Evaluation,
    EvaluationAnswer,
    EvaluationAnswerItem,
    Event,
    Organisation,
)
from . import invitations, questions

CSV_MIMETYPE = "text/csv; charset=utf-8"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def min_group() -> int:
    return max(1, int(current_app.config["EVALUATION_MIN_GROUP"]))


@dataclass(frozen=True)
class RatingFigures:
    question: str
    answers: int
    average: float | None
    #: How many chose each rating, 1 to 5.
    distribution: dict[int, int]
    #: Fewer answers to this question than the minimum group: average and distribution
    #: are not shown (None and zeros).
    hidden: bool = False

    @property
    def most(self) -> int:
        return max(self.distribution.values(), default=0)


@dataclass(frozen=True)
class TextFigures:
    question: str
    answers: list[str]


@dataclass(frozen=True)
class Figures:
    """The figures of one set of answers, question by question in the evaluation's order."""

    answers: int
    items: list[RatingFigures | TextFigures]

    @property
    def ratings(self) -> list[RatingFigures]:
        return [item for item in self.items if isinstance(item, RatingFigures)]

    @property
    def texts(self) -> list[TextFigures]:
        return [item for item in self.items if isinstance(item, TextFigures)]


#: Swedish alphabetical order: ... x y z å ä ö (code points put ä before å).
_SWEDISH = str.maketrans({"å": "{", "ä": "|", "æ": "|", "ö": "}", "ø": "}", "é": "e", "è": "e", "ü": "y"})


def swedish_order(text: str) -> str:
    return text.casefold().translate(_SWEDISH)


def _answer_filter(evaluation: Evaluation, organisation_ids: list[int | None] | None):
    condition = EvaluationAnswer.evaluation_id == evaluation.id
    if organisation_ids is None:
        return condition
    known = [i for i in organisation_ids if i is not None]
    parts = [EvaluationAnswer.organisation_id.in_(known)] if known else []
    if None in organisation_ids:
        parts.append(EvaluationAnswer.organisation_id.is_(None))
    return sa.and_(condition, sa.or_(*parts) if parts else sa.false())


def figures(
    evaluation: Evaluation, organisation_ids: list[int | None] | None = None, minimum: int = 1
) -> Figures:
    """Averages, distributions and free texts of the evaluation's answers (``None``:
    all; else only those from these organisations, ``None`` in the list meaning "not
    given"). A rating question answered fewer than ``minimum`` times keeps only its
    count (``hidden``)."""
    where = _answer_filter(evaluation, organisation_ids)
    answers = db.session.scalar(sa.select(sa.func.count(EvaluationAnswer.id)).where(where)) or 0
    ratings: dict[int, dict[int, int]] = defaultdict(dict)
    for question_id, rating, n in db.session.execute(
        sa.select(EvaluationAnswerItem.question_id, EvaluationAnswerItem.rating, sa.func.count())
        .join(EvaluationAnswer, EvaluationAnswer.id == EvaluationAnswerItem.answer_id)
        .where(where, EvaluationAnswerItem.rating.is_not(None))
        .group_by(EvaluationAnswerItem.question_id, EvaluationAnswerItem.rating)
    ):
        ratings[question_id][int(rating)] = int(n)
    texts: dict[int, list[str]] = defaultdict(list)
    for question_id, text in db.session.execute(
        sa.select(EvaluationAnswerItem.question_id, EvaluationAnswerItem.text)
        .join(EvaluationAnswer, EvaluationAnswer.id == EvaluationAnswerItem.answer_id)
        .where(where, EvaluationAnswerItem.text.is_not(None))
    ):
        texts[question_id].append(text)
    items: list[RatingFigures | TextFigures] = []
    for question in evaluation.questions:
        if question.kind == questions.RATING:
            distribution = {r: ratings[question.id].get(r, 0) for r in questions.RATINGS}
            count = sum(distribution.values())
            if 0 < count < minimum:
                items.append(
                    RatingFigures(question.text, count, None, dict.fromkeys(questions.RATINGS, 0), hidden=True)
                )
                continue
            average = sum(r * n for r, n in distribution.items()) / count if count else None
            items.append(RatingFigures(question.text, count, average, distribution))
        else:
            items.append(TextFigures(question.text, sorted(texts[question.id], key=swedish_order)))
    return Figures(int(answers), items)


@dataclass(frozen=True)
class GroupRow:
    """One row of the table per organisation: the answers and each rating's average."""

    name: str
    answers: int
    averages: list[float | None]
    other: bool = False


@dataclass
class Summary:
    """What one staff member may see of an evaluation."""

    evaluation: Evaluation | None
    progress: invitations.Progress
    #: Organisers: every answer; coordinators: their organisation's. None: not shown
    #: (``withheld`` says why).
    figures: Figures | None
    answers: int
    withheld: str | None
    #: Organisers, once answering has closed: the table per organisation.
    groups: list[GroupRow] = field(default_factory=list)
    groups_withheld: str | None = None
    organisation: Organisation | None = None
    rating_questions: list[str] = field(default_factory=list)


def _counts_by_organisation(evaluation: Evaluation) -> dict[int | None, int]:
    return {
        organisation_id: int(n)
        for organisation_id, n in db.session.execute(
            sa.select(EvaluationAnswer.organisation_id, sa.func.count(EvaluationAnswer.id))
            .where(EvaluationAnswer.evaluation_id == evaluation.id)
            .group_by(EvaluationAnswer.organisation_id)
        )
    }


def shown_organisations(counts: dict[int | None, int], minimum: int) -> list[int]:
    """The organisations that get a row of their own: at least ``minimum`` answers each,
    and the rest (the others and "not given") either empty or at least ``minimum`` too."""
    shown = sorted(
        (i for i, n in counts.items() if i is not None and n >= minimum),
        key=lambda i: (counts[i], i),
    )
    rest = sum(n for i, n in counts.items() if i not in shown)
    while shown and 0 < rest < minimum:
        smallest = shown.pop(0)
        rest += counts[smallest]
    return shown


def _closes_text(evaluation: Evaluation) -> str:
    ends = invitations.closes_at(evaluation)
    if ends is None:
        return _("Figures per organisation are shown once the evaluation has been sent and answering has closed.")
    return _("Figures per organisation are shown once answering has closed, %(when)s.", when=format_moment(ends))


def _too_few(minimum: int) -> str:
    return _(
        "Figures are shown once at least %(min)d people have answered, so that no single answer can be told apart.",
        min=minimum,
    )


def for_organiser(event: Event) -> Summary:
    evaluation = questions.of_event(event.id)
    progress = invitations.progress(evaluation)
    if evaluation is None:
        return Summary(None, progress, None, 0, None)
    minimum = min_group()
    counts = _counts_by_organisation(evaluation)
    total = sum(counts.values())
    summary = Summary(evaluation, progress, None, total, None)
    summary.rating_questions = [q.text for q in evaluation.questions if q.kind == questions.RATING]
    if total < minimum:
        summary.withheld = _too_few(minimum)
        return summary
    summary.figures = figures(evaluation, minimum=minimum)
    if not invitations.is_closed(evaluation):
        summary.groups_withheld = _closes_text(evaluation)
        return summary
    shown = shown_organisations(counts, minimum)
    names = dict(
        db.session.execute(
            sa.select(Organisation.id, Organisation.name).where(Organisation.id.in_(shown))
        ).all()
    )
    rows = []
    for organisation_id in sorted(shown, key=lambda i: swedish_order(names.get(i, ""))):
        found = figures(evaluation, [organisation_id], minimum)
        rows.append(GroupRow(names.get(organisation_id, "?"), found.answers, [r.average for r in found.ratings]))
    rest = [i for i in counts if i not in shown]
    if rest:
        found = figures(evaluation, rest, minimum)
        rows.append(
            GroupRow(
                _("Other organisations, or not given"),
                found.answers,
                [r.average for r in found.ratings],
                other=True,
            )
        )
    summary.groups = rows
    return summary


def for_coordinator(event: Event, organisation_id: int | None) -> Summary:
    evaluation = questions.of_event(event.id)
    progress = invitations.progress(evaluation)
    organisation = db.session.get(Organisation, organisation_id) if organisation_id else None
    if evaluation is None or organisation is None:
        return Summary(evaluation, progress, None, 0, None, organisation=organisation)
    minimum = min_group()
    own = _counts_by_organisation(evaluation).get(organisation.id, 0)
    summary = Summary(evaluation, progress, None, own, None, organisation=organisation)
    if not invitations.is_closed(evaluation):
        summary.withheld = _closes_text(evaluation)
    elif own < minimum:
        summary.withheld = _(
            "Fewer than %(min)d people from %(organisation)s gave their organisation with their answers. To protect them, their answers are counted only in the organiser's overall summary.",
            min=minimum,
            organisation=organisation.name,
        )
    else:
        summary.figures = figures(evaluation, [organisation.id], minimum)
    return summary


# --- exports ------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    text = printable(str(value))
    return "'" + text if text.startswith(_FORMULA_START) else text


def _rating_header() -> list[str]:
    return [_("Question"), _("Answers"), _("Average"), "1", "2", "3", "4", "5"]


def _rating_row(item: RatingFigures) -> list:
    if item.hidden:
        return [item.question, item.answers, None, None, None, None, None, None]
    return [
        item.question,
        item.answers,
        round(item.average, 2) if item.average is not None else None,
        *(item.distribution[r] for r in questions.RATINGS),
    ]


def _sections(event: Event, summary: Summary) -> list[tuple[str, list[list]]]:
    """(title, rows with a header first) of everything the viewer may see."""
    assert summary.figures is not None
    heading = [[printable(event.title)], [_("Answers"), summary.figures.answers]]
    if summary.organisation is not None:
        heading.append([_("Organisation"), summary.organisation.name])
    sections = [(_("Summary"), heading + [[], _rating_header(), *(_rating_row(r) for r in summary.figures.ratings)])]
    texts = [[_("Question"), _("Answer")]]
    for item in summary.figures.texts:
        texts += [[item.question, answer] for answer in item.answers]
    sections.append((_("Free text"), texts))
    if summary.groups:
        rows = [[_("Organisation"), _("Answers"), *summary.rating_questions]]
        rows += [[g.name, g.answers, *(round(a, 2) if a is not None else None for a in g.averages)] for g in summary.groups]
        sections.append((_("Per organisation"), rows))
    return sections


def to_csv(sections: list[tuple[str, list[list]]]) -> bytes:
    """UTF-8 with BOM and semicolons (Excel with Swedish settings), one block per section."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    for index, (title, rows) in enumerate(sections):
        if index:
            writer.writerow([])
        writer.writerow([_cell(title)])
        for row in rows:
            writer.writerow([_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(sections: list[tuple[str, list[list]]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sections:
        sheet = book.create_sheet(title[:31])
        for row in rows:
            sheet.append([printable(v) if isinstance(v, str) else v for v in row])
            for cell in sheet[sheet.max_row]:
                if cell.data_type == "f":  # text that looks like a formula stays text
                    cell.data_type = "s"
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.column_dimensions["A"].width = 60
        sheet.column_dimensions["B"].width = 40 if title == _("Free text") else 12
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class ExportFile:
    filename: str
    mimetype: str
    data: bytes


def export(event_id: int, user_id: int, sees_everyone: bool, organisation_id: int | None, fmt: str) -> ExportFile:
    """The viewer's summary as ``fmt`` ("csv" or "xlsx"), audited before it is handed out.
    Refused when the viewer may see no figures yet."""
    if fmt not in ("csv", "xlsx"):
        raise ValueError(fmt)
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound()
    summary = for_organiser(event) if sees_everyone else for_coordinator(event, organisation_id)
    if summary.figures is None:
        raise Refused(summary.withheld or _("There are no answers to download yet."))
    sections = _sections(event, summary)
    data, mimetype = (to_csv(sections), CSV_MIMETYPE) if fmt == "csv" else (to_xlsx(sections), XLSX_MIMETYPE)
    stamp = clock.local(clock.now()).strftime("%Y%m%d-%H%M")
    details = {
        "format": fmt,
        "answers": summary.figures.answers,
        "scope": "all" if sees_everyone else "organisation",
        "organisation_id": None if sees_everyone else organisation_id,
    }

    def work() -> None:
        audit.record(user_id, "evaluation.export", db.session.get(Event, event_id), details)

    write_transaction(work)
    return ExportFile(f"kvarn-event-{event_id}-evaluation-{stamp}.{fmt}", mimetype, data)


"""Evaluations and certificates of attendance ("after the course").

``questions`` (an event's questions, editable until the invitations go out),
``invitations`` (the thank-you mail with the evaluation link after the last session and
one reminder, each exactly once; ``flask evaluations send-due``), ``answers`` (a link
answers once; the answer is stored with no link to the person), ``summary`` (averages,
distributions, free texts; per organisation only in groups of ``EVALUATION_MIN_GROUP``),
``certificates`` (who qualifies, the PDF, the verification code), ``notices`` (their mail).
"""

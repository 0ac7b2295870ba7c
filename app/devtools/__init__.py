"""For a developer's machine only: demo data (``demo``), bulk data and a statement
counter for benchmarks and scale tests (``scale``), and the mailbox that shows queued
mail (``mailbox``). ``make run`` starts them through ``app.devserver``. Never used in
production: the mailbox shows everyone's mail, manage links included."""

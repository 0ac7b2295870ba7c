// Progressive enhancement only: the pages work without it.
// A button marked data-once is disabled after its form is submitted, so a double
// click sends the form once (the server also recognises a resent form).
document.addEventListener("submit", function (event) {
  var buttons = event.target.querySelectorAll("button[data-once]");
  buttons.forEach(function (button) {
    window.setTimeout(function () { button.disabled = true; }, 0);
  });
});
// The error summary: focus it (where autofocus is not honoured) and let its links move
// the focus into the field they name, not only scroll to it.
(function () {
  var summary = document.querySelector("[data-error-summary]");
  if (!summary) { return; }
  if (document.activeElement !== summary) { summary.focus(); }
  summary.addEventListener("click", function (event) {
    var link = event.target.closest("a[href^='#']");
    if (!link) { return; }
    var target = document.getElementById(link.getAttribute("href").slice(1));
    if (target) { event.preventDefault(); target.focus(); target.scrollIntoView({block: "center"}); }
  });
})();
// The sign-up form's "Add a colleague": a new row at once, copied from the page's template
// row (without the script the button sends the form and the page comes back with a row).
(function () {
  var button = document.querySelector("[data-add-colleague]");
  var template = document.querySelector("template[data-colleague-template]");
  var team = document.querySelector("[data-team]");
  if (!button || !template || !team) { return; }
  var list = team.querySelector("[data-colleague-list]");
  var nextIndex = parseInt(template.dataset.nextIndex, 10);
  var nextNumber = parseInt(template.dataset.nextNumber, 10);
  var maxRows = parseInt(team.dataset.maxRows, 10);
  button.addEventListener("click", function (event) {
    event.preventDefault();
    var html = template.innerHTML.split("__index__").join(String(nextIndex))
      .split("__number__").join(String(nextNumber));
    list.insertAdjacentHTML("beforeend", html);
    var rows = list.querySelectorAll("[data-colleague-row]");
    var added = rows[rows.length - 1];
    nextIndex += 1;
    nextNumber += 1;
    if (rows.length >= maxRows) { button.hidden = true; }
    added.querySelector("input").focus();
  });
})();

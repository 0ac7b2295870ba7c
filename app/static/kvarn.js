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

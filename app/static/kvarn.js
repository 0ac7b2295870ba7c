// Progressive enhancement only: the pages work without it.
// A button marked data-once is disabled after its form is submitted, so a double
// click sends the form once (the server also recognises a resent form).
document.addEventListener("submit", function (event) {
  var buttons = event.target.querySelectorAll("button[data-once]");
  buttons.forEach(function (button) {
    window.setTimeout(function () { button.disabled = true; }, 0);
  });
});
// Filters that apply as soon as a choice is made.
document.querySelectorAll("form.filter select").forEach(function (select) {
  select.addEventListener("change", function () { select.form.submit(); });
});

// Staff pages, progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // Buttons with data-confirm ask first. Capture phase, so a "no" stops the
  // submit before kvarn.js disables the button.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = button && button.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);

  // A button that opens a preview in a new tab (formtarget) leaves this page as it is:
  // kvarn.js must not disable the form's send button (data-once) for it.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (button && button.getAttribute("formtarget") === "_blank") {
      event.stopPropagation();
    }
  }, true);

  // Check-in: send the tap with fetch and update the row in place.
  var list = document.querySelector(".checkin-list");
  if (list) {
    var count = document.querySelector("[data-checkin-count]");
    var render = function (item, form, attended) {
      item.classList.toggle("is-in", attended);
      form.querySelector("input[name=attended]").value = attended ? "0" : "1";
      var button = form.querySelector("button");
      var hidden = button.querySelector(".visually-hidden");
      button.textContent = attended ? list.dataset.labelUndo : list.dataset.labelIn;
      if (hidden) { button.appendChild(hidden); }
      button.classList.toggle("secondary", attended);
      var state = form.querySelector(".state");
      if (attended && !state) {
        state = document.createElement("span");
        state.className = "state";
        state.textContent = list.dataset.labelState;
        form.insertBefore(state, button);
      } else if (!attended && state) {
        state.remove();
      }
    };
    list.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.hasAttribute("data-checkin")) { return; }
      event.preventDefault();
      var button = form.querySelector("button");
      button.disabled = true;
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      }).then(function (result) {
        button.disabled = false;
        if (!result.ok || !result.data.ok) {
          window.alert(result.data.message || "");
          return;
        }
        render(form.closest("li"), form, result.data.attended);
        if (count && result.data.count_text) { count.textContent = result.data.count_text; }
      }).catch(function () {
        form.submit();  // fall back to the plain form post
      });
    });

    // Narrow the list while typing; the search button still works without this.
    var filter = document.querySelector("[data-checkin-filter]");
    if (filter) {
      filter.addEventListener("input", function () {
        var needle = filter.value.trim().toLowerCase();
        list.querySelectorAll("li").forEach(function (item) {
          item.hidden = needle !== "" && item.dataset.name.indexOf(needle) === -1;
        });
      });
    }
  }

  // A round's delivery (reminder or message): poll until every mail is sent or failed.
  var progress = document.querySelector("[data-progress-url]");
  if (progress) {
    var bar = progress.querySelector("[data-progress-bar]");
    var text = progress.querySelector("[data-progress-text]");
    var poll = function () {
      fetch(progress.dataset.progressUrl, {
        credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (data) {
        if (!data) { return; }
        bar.max = data.total || 1;
        bar.value = data.done;
        text.textContent = data.text;
        if (!data.finished) { window.setTimeout(poll, 1500); }
      }).catch(function () {
        window.setTimeout(poll, 5000);
      });
    };
    window.setTimeout(poll, 1000);
  }
})();

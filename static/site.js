// htmx 2 leaves 4xx answers unswapped; our error fragments (a throttled form's too) are meant to be shown.
document.addEventListener("htmx:beforeSwap", function (event) {
  var status = event.detail.xhr.status;
  if (status === 400 || status === 403 || status === 404 || status === 409 || status === 429) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

// "Select all" checkbox of a list with bulk actions (the actions work without it).
document.addEventListener("change", function (event) {
  var box = event.target;
  if (!box.matches || !box.matches("input[data-select-all]")) return;
  var form = box.form || box.closest("form");
  if (!form) return;
  form.querySelectorAll('input[type=checkbox][name="' + box.dataset.selectAll + '"]').forEach(function (item) {
    item.checked = box.checked;
  });
});

// A live job's status is read out once per change. The polled fragments sit in
// no live region (they are replaced every second); this remembers each job's
// last status and writes to the page's one polite region only when it differs.
var jobStatuses = {};

function jobSummary(fragment) {
  var title = fragment.querySelector("h2");
  var text = (title ? title.textContent.trim() : "Job " + fragment.dataset.jobId) + ": " + fragment.dataset.status;
  if (fragment.querySelector(".warning-box")) text += ", with a warning";
  return text;
}

function noteJobStatuses(root, announceChanges) {
  var fragments = [];
  if (root.matches && root.matches(".job-status[data-job-id]")) fragments.push(root);
  if (root.querySelectorAll) fragments = fragments.concat(Array.prototype.slice.call(root.querySelectorAll(".job-status[data-job-id]")));
  var changes = [];
  fragments.forEach(function (fragment) {
    var id = fragment.dataset.jobId, status = fragment.dataset.status;
    if (jobStatuses[id] !== status) {
      jobStatuses[id] = status;
      changes.push(jobSummary(fragment));
    }
  });
  if (announceChanges && changes.length) announce(changes.join(". "));
}

document.addEventListener("DOMContentLoaded", function () { noteJobStatuses(document, false); });

// After a swap, focus stays where the user was (htmx refocuses an element whose
// id survives the swap); if the focused element is gone, focus moves to what
// replaced the part it was in. Kept per target: other swaps may settle between.
var focusWasIn = {};

function announce(text) {
  var announcer = document.getElementById("announcer");
  if (announcer && text) announcer.textContent = text;
}

// A disclosure the user opened or closed keeps that state when its fragment is polled again.
var disclosures = {};

document.addEventListener("click", function (event) {
  var summary = event.target.closest && event.target.closest("details[id] > summary");
  if (!summary) return;
  var details = summary.parentElement;
  // The click toggles the disclosure after this handler; read the state it lands in.
  setTimeout(function () { disclosures[details.id] = details.open; }, 0);
});

document.addEventListener("htmx:beforeSwap", function (event) {
  var target = event.detail.target;
  if (target && target.id && document.activeElement !== document.body && target.contains(document.activeElement)) {
    focusWasIn[target.id] = true;
  }
});

document.addEventListener("htmx:afterSettle", function (event) {
  noteJobStatuses(event.detail.elt, true);
  // A swapped list says how many rows it now holds (e.g. the stations filter).
  var summary = event.detail.elt.querySelector && event.detail.elt.querySelector("[data-announce]");
  if (event.detail.elt.matches && event.detail.elt.matches("[data-announce]")) summary = event.detail.elt;
  if (summary) announce(summary.textContent.trim());
  Object.keys(disclosures).forEach(function (id) {
    var details = document.getElementById(id);
    if (details && details.open !== disclosures[id]) details.open = disclosures[id];
  });
  Object.keys(focusWasIn).forEach(function (id) {
    var landed = document.getElementById(id);
    if (!landed) return;
    delete focusWasIn[id];
    if (document.activeElement && document.activeElement !== document.body) return;
    if (!landed.hasAttribute("tabindex")) landed.setAttribute("tabindex", "-1");
    landed.focus();
  });
});

// Session page: a capture opens in a viewer; the arrow keys step through the page's captures.
(function () {
  var viewer = document.getElementById("viewer");
  if (!viewer || typeof viewer.showModal !== "function") return;  // without it, the links open the image
  var items = Array.prototype.slice.call(document.querySelectorAll("[data-viewer-item]"));
  var image = document.getElementById("viewer-image");
  var caption = document.getElementById("viewer-caption");
  var current = -1;

  function show(index) {
    if (index < 0 || index >= items.length) return;
    current = index;
    image.src = items[index].href;
    image.alt = items[index].querySelector("img").alt;
    caption.textContent = items[index].dataset.caption + " (" + (index + 1) + " of " + items.length + ")";
    viewer.dataset.index = String(index);
    if (!viewer.open) viewer.showModal();
  }

  items.forEach(function (item, index) {
    item.addEventListener("click", function (event) {
      event.preventDefault();
      show(index);
    });
  });
  viewer.addEventListener("click", function (event) {
    var step = event.target.closest("[data-viewer-step]");
    if (step) show(current + Number(step.dataset.viewerStep));
    if (event.target.closest("[data-viewer-close]")) viewer.close();
  });
  viewer.addEventListener("close", function () {
    if (items[current]) items[current].focus();
  });
  document.addEventListener("keydown", function (event) {
    if (!viewer.open) return;
    if (event.key === "ArrowRight") { event.preventDefault(); show(current + 1); }
    if (event.key === "ArrowLeft") { event.preventDefault(); show(current - 1); }
  });
})();
// "Copy" button beside a value shown once (a new API token): data-copy-from names the element.
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("button[data-copy-from]");
  if (!button) return;
  var source = document.getElementById(button.dataset.copyFrom);
  var status = document.getElementById(button.getAttribute("aria-describedby") || "");
  if (!source) return;
  var text = source.textContent.trim();
  function done(message) { if (status) status.textContent = message; }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(function () { done("Copied."); }, function () { done("Select the token and copy it."); });
    return;
  }
  var range = document.createRange();
  range.selectNodeContents(source);
  var selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  var copied = false;
  try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
  done(copied ? "Copied." : "Selected: press Ctrl+C to copy.");
});

// A delete button stays disabled until the station's name is typed exactly (the server checks it too).
document.addEventListener("input", function (event) {
  var input = event.target;
  if (!input.matches || !input.matches("input[data-confirm-value]")) return;
  var button = input.form && input.form.querySelector("button[data-confirm-button]");
  if (button) button.disabled = input.value.trim() !== input.dataset.confirmValue.trim();
});

// The data-source picker's "Use" buttons put a folder into the form's field.
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("button[data-pick-value]");
  if (!button) return;
  var field = document.getElementById(button.dataset.pickTarget);
  if (!field) return;
  field.value = button.dataset.pickValue;
  field.dispatchEvent(new Event("change", { bubbles: true }));
  var status = document.getElementById("picked");
  if (status) status.textContent = "Data source set to " + button.dataset.pickLabel + ".";
});

// Session timeline: a click on a band opens its session (the picture holds no links, so nothing in it takes
// focus; the table below the picture links the same sessions for the keyboard).
document.addEventListener("click", function (event) {
  var band = event.target.closest && event.target.closest(".band-link[data-href]");
  if (band) window.location.href = band.dataset.href;
});

// A list that refreshes itself while work runs (the stations list) keeps the boxes the user ticked.
var keptChecks = {};

document.addEventListener("htmx:beforeSwap", function (event) {
  var target = event.detail.target;
  if (!target || !target.id || !target.hasAttribute("data-hx-trigger")) return;
  keptChecks[target.id] = Array.prototype.map.call(
    target.querySelectorAll("input[type=checkbox][id]:checked"), function (box) { return box.id; });
});

document.addEventListener("htmx:afterSettle", function () {
  Object.keys(keptChecks).forEach(function (id) {
    keptChecks[id].forEach(function (boxId) {
      var box = document.getElementById(boxId);
      if (box) box.checked = true;
    });
    delete keptChecks[id];
  });
});

// A touch screen shows no tooltips: a tap on a chart's bar or band reads its title out below the
// chart, in the figure's [data-readout] line (the same counts are in the tables for the keyboard).
document.addEventListener("click", function (event) {
  var part = event.target.closest && event.target.closest("figure svg rect.bar, figure svg rect.band");
  var figure = part && part.closest("figure");
  var line = figure && figure.querySelector("[data-readout]");
  var title = part && part.querySelector("title");
  if (line && title) line.textContent = title.textContent;
});

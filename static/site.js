// htmx 2 leaves 4xx answers unswapped; our error fragments are meant to be shown.
document.addEventListener("htmx:beforeSwap", function (event) {
  var status = event.detail.xhr.status;
  if (status === 400 || status === 403 || status === 404 || status === 409) {
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

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

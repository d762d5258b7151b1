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

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

// The console's only script (no inline script: the pages' content security policy forbids it).
// htmx sends the page's CSRF token with every request it makes, as Flask-WTF expects it.
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) {
    event.detail.headers["X-CSRFToken"] = meta.getAttribute("content");
  }
});
// Buttons and links marked data-confirm ask before they go (forms without htmx).
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  var text = (button && button.dataset.confirm) || event.target.dataset.confirm;
  if (text && !window.confirm(text)) {
    event.preventDefault();
  }
});

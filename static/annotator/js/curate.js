// Curation and comments: htmx swaps a refused action's answer too (400: invalid, 409: gold changed
// meanwhile), since that answer is the up-to-date comparison with the reason it was refused.
document.body.addEventListener("htmx:beforeSwap", (event) => {
  const status = event.detail.xhr.status;
  if (status === 400 || status === 409) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

// Copy buttons: <button data-copy="#id"> copies that element's text and says so in its status line.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  const status = document.getElementById(button.getAttribute("aria-describedby") || "");
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.textContent.trim());
    if (status) status.textContent = "Copied to the clipboard.";
  } catch (error) {
    // No clipboard (an insecure origin, a refusal): select the text so that Ctrl+C copies it.
    window.getSelection()?.selectAllChildren(source);
    if (status) status.textContent = "Selected: press Ctrl+C to copy.";
  }
});

// KB pages: a header checkbox selects every enabled mention checkbox of its group.
document.addEventListener("change", (event) => {
  const master = event.target.closest("[data-select-all]");
  if (!master) return;
  const group = master.dataset.selectAll;
  for (const box of document.querySelectorAll(`input[type="checkbox"][data-group="${CSS.escape(group)}"]`)) {
    if (!box.disabled) box.checked = master.checked;
  }
});

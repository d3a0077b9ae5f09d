// Small progressive enhancements; every page works without them.
document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", () => {
  for (const box of document.querySelectorAll("[data-select-all]")) {
    const name = box.getAttribute("data-select-all");
    box.addEventListener("change", () => {
      for (const item of box.form.querySelectorAll(`input[name="${name}"]`)) item.checked = box.checked;
    });
  }
  for (const button of document.querySelectorAll("[data-nav-toggle]")) {
    const top = button.closest(".top");
    button.addEventListener("click", () => {
      const open = top.classList.toggle("open");
      button.setAttribute("aria-expanded", String(open));
    });
  }
  for (const link of document.querySelectorAll("[data-back]")) {
    link.addEventListener("click", (event) => {
      if (history.length > 1) { event.preventDefault(); history.back(); }
    });
  }
});

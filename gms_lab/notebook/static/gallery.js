// Take gallery: a shot's takes as thumbnails; click (or Enter) selects the shot's take.
function render({ model, el }) {
  el.classList.add("gms-widget", "gms-gallery");
  const draw = () => {
    const takes = model.get("takes") || [];
    const selected = model.get("selected");
    el.replaceChildren();
    const title = document.createElement("div");
    title.className = "gms-gallery__title";
    title.textContent = model.get("title");
    const strip = document.createElement("div");
    strip.className = "gms-gallery__strip";
    strip.setAttribute("role", "listbox");
    for (const take of takes) {
      const card = document.createElement("button");
      card.type = "button";
      card.className = "gms-take" + (take.id === selected ? " gms-take--selected" : "");
      card.setAttribute("role", "option");
      card.setAttribute("aria-selected", String(take.id === selected));
      card.dataset.takeId = take.id;
      card.title = take.caption || take.id;
      if (take.src) {
        const img = document.createElement("img");
        img.src = take.src;
        img.alt = take.caption || take.id;
        card.append(img);
      } else {
        const ph = document.createElement("div");
        ph.className = "gms-take__placeholder";
        ph.textContent = take.status;
        card.append(ph);
      }
      const caption = document.createElement("span");
      caption.className = "gms-take__caption";
      caption.textContent =
        `${take.id === selected ? "★ " : ""}${take.label || take.id} · ${take.status}`;
      card.append(caption);
      card.disabled = take.status !== "completed";
      card.addEventListener("click", () => {
        model.set("selected", take.id);
        model.save_changes();
      });
      strip.append(card);
    }
    if (!takes.length) strip.textContent = "No takes yet.";
    el.append(title, strip);
  };
  model.on("change:takes", draw);
  model.on("change:selected", draw);
  model.on("change:title", draw);
  draw();
  return () => {
    model.off("change:takes", draw);
    model.off("change:selected", draw);
    model.off("change:title", draw);
  };
}

export default { render };

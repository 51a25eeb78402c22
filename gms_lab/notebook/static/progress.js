// Task progress: one row per task (label, bar, step, status) and an overall bar for a batch.
function row(task) {
  const el = document.createElement("div");
  el.className = `gms-task gms-task--${task.status}`;
  el.dataset.taskId = task.id;
  const head = document.createElement("div");
  head.className = "gms-task__head";
  const label = document.createElement("span");
  label.className = "gms-task__label";
  label.textContent = task.label;
  const status = document.createElement("span");
  status.className = "gms-task__status";
  status.textContent =
    task.status === "running" ? `${Math.round(task.progress * 100)}%` : task.status;
  head.append(label, status);
  const bar = document.createElement("div");
  bar.className = "gms-bar";
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  bar.setAttribute("aria-valuenow", String(Math.round(task.progress * 100)));
  const fill = document.createElement("div");
  fill.className = "gms-bar__fill";
  fill.style.width = `${Math.max(0, Math.min(1, task.progress)) * 100}%`;
  bar.append(fill);
  const step = document.createElement("div");
  step.className = "gms-task__step";
  step.textContent = task.error || task.step || "";
  if (task.preview) {
    // the latest preview of the take in the making, beside its bar
    const image = document.createElement("img");
    image.className = "gms-task__preview";
    image.alt = `preview of ${task.label}`;
    image.src = task.preview;
    const text = document.createElement("div");
    text.className = "gms-task__text";
    text.append(head, bar, step);
    el.classList.add("gms-task--previewing");
    el.append(image, text);
  } else {
    el.append(head, bar, step);
  }
  return el;
}

function render({ model, el }) {
  el.classList.add("gms-widget", "gms-progress");
  const draw = () => {
    const tasks = model.get("tasks") || [];
    const title = model.get("title");
    el.replaceChildren();
    if (tasks.length > 1 || title) {
      const done = tasks.filter((t) => ["completed", "error", "cancelled"].includes(t.status));
      const overall = tasks.reduce((sum, t) => sum + (t.progress || 0), 0) / (tasks.length || 1);
      const failed = tasks.filter((t) => t.status !== "completed" && done.includes(t)).length;
      el.append(
        row({
          id: "batch",
          label: title || `${tasks.length} tasks`,
          status: done.length === tasks.length ? (failed ? "error" : "completed") : "running",
          progress: overall,
          step: `${done.length} of ${tasks.length} done${failed ? `, ${failed} failed` : ""}`,
        }),
      );
      el.lastChild.classList.add("gms-task--batch");
    }
    for (const task of tasks) el.append(row(task));
  };
  model.on("change:tasks", draw);
  model.on("change:title", draw);
  draw();
  return () => {
    model.off("change:tasks", draw);
    model.off("change:title", draw);
  };
}

export default { render };

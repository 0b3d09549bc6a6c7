// The drawing page of `skmnist serve`: draw or upload a digit, show what the
// model reads. Plain JavaScript, no libraries: the page works offline.
"use strict";

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const seen = document.getElementById("seen");
const seenCtx = seen.getContext("2d");
const bars = document.getElementById("bars");
const prediction = document.getElementById("prediction");
const confidence = document.getElementById("confidence");
const statusLine = document.getElementById("status");
const modelInfo = document.getElementById("model-info");
const uploadInput = document.getElementById("upload");
const undoButton = document.getElementById("undo");
const pen = document.getElementById("pen");
const penWidth = document.getElementById("pen-width");
const drawTitle = document.getElementById("draw-title");
const fileName = document.getElementById("file-name");

// The pen's width in px on the 280 px pad; 20 is about MNIST's stroke after
// fitting.
let inkWidth = Number(pen.value);
const UNDO_STEPS = 50; // strokes that Undo can take back
const undoStack = []; // the pad before each stroke
const UPLOAD_SIDE = 1024; // pictures larger than this are scaled down first
// The drawing is sent at 112 x 112: still 5.6 times the 20 x 20 box that the
// digit is fitted into, and 6 times fewer pixels for the server to convert.
const SEND_SIDE = 112;
const sendCanvas = document.createElement("canvas");
sendCanvas.width = SEND_SIDE;
sendCanvas.height = SEND_SIDE;
const sendCtx = sendCanvas.getContext("2d");

let limits = { max_body_bytes: 2 * 1024 * 1024, max_image_pixels: 2048 * 2048 };
let hasInk = false;
let showingUpload = false;
let drawing = false;
let last = null;
let inFlight = false;
let dirty = false;
let predictions = 0;

function setStatus(text, isError) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", Boolean(isError));
}

function clearPad() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  hasInk = false;
  showingUpload = false;
  undoStack.length = 0;
  undoButton.disabled = true;
  showSource(null);
}

// The panel says what the pad holds: a drawing, or the uploaded file.
function showSource(name) {
  drawTitle.textContent = name ? "Your picture" : "Draw a digit";
  fileName.textContent = name ? `Uploaded: ${name}` : "";
}

function resetResult() {
  prediction.textContent = "\u2013";
  prediction.className = "empty";
  confidence.textContent = "";
  for (const li of bars.children) showBar(li, 0, false);
  seenCtx.fillStyle = "#000";
  seenCtx.fillRect(0, 0, seen.width, seen.height);
}

function makeBars(classes) {
  bars.replaceChildren();
  for (const label of classes) {
    const li = document.createElement("li");
    li.dataset.label = String(label);
    const name = document.createElement("span");
    name.className = "label";
    name.textContent = String(label);
    const track = document.createElement("span");
    track.className = "track";
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.setAttribute("role", "meter");
    fill.setAttribute("aria-valuemin", "0");
    fill.setAttribute("aria-valuemax", "1");
    fill.setAttribute("aria-label", `probability of ${label}`);
    track.append(fill);
    const value = document.createElement("span");
    value.className = "value";
    li.append(name, track, value);
    bars.append(li);
    showBar(li, 0, false);
  }
}

function showBar(li, p, best) {
  const fill = li.querySelector(".fill");
  fill.style.width = `${(100 * p).toFixed(1)}%`;
  fill.setAttribute("aria-valuenow", p.toFixed(4));
  li.dataset.probability = p.toFixed(6);
  li.querySelector(".value").textContent = `${(100 * p).toFixed(1)}%`;
  li.classList.toggle("best", best);
}

function showResult(answer) {
  const label = answer.labels[0];
  const proba = answer.probabilities[0];
  const best = proba.indexOf(Math.max(...proba));
  const order = proba.map((p, i) => i).sort((i, j) => proba[j] - proba[i]);
  const percent = (i) => `${(100 * proba[i]).toFixed(0)}%`;
  const unsure = answer.not_sure ? answer.not_sure[0] : false;
  const odd = answer.maybe_not_a_digit ? answer.maybe_not_a_digit[0] : false;
  prediction.textContent = String(label);
  prediction.className = unsure || odd ? "unsure" : "";
  if (unsure || odd) {
    // Below the threshold measured on MNIST, or ink unlike a digit's: the top
    // two guesses, not a percentage that sounds sure.
    const [a, b] = order;
    confidence.textContent =
      `not sure: ${answer.classes[a]} (${percent(a)}) or ` +
      `${answer.classes[b]} (${percent(b)})` +
      (odd ? "; this may not be a digit" : "");
  } else {
    confidence.textContent = `${percent(best)} sure`;
  }
  if (bars.children.length !== answer.classes.length) makeBars(answer.classes);
  Array.from(bars.children).forEach((li, i) => showBar(li, proba[i], i === best));
  const image = seenCtx.createImageData(28, 28);
  answer.images[0].flat().forEach((v, i) => {
    image.data.set([v, v, v, 255], 4 * i);
  });
  seenCtx.putImageData(image, 0, 0);
  predictions += 1;
  document.body.dataset.predictions = String(predictions);
  setStatus("");
}

async function send(body, type) {
  inFlight = true;
  document.body.dataset.busy = "yes";
  try {
    const response = await fetch("predict", {
      method: "POST",
      headers: { "Content-Type": type },
      body,
    });
    const answer = await response.json().catch(() => ({}));
    if (response.ok) {
      showResult(answer);
    } else {
      setStatus(answer.error || `the service answered ${response.status}`, true);
    }
  } catch (error) {
    setStatus(`the service cannot be reached: ${error.message}`, true);
  } finally {
    inFlight = false;
  }
}

// Live prediction while drawing: at most one request in flight; the latest
// drawing is sent when it returns.
function predictPad() {
  if (!hasInk) return;
  if (inFlight) {
    dirty = true;
    return;
  }
  dirty = false;
  inFlight = true;
  document.body.dataset.busy = "yes";
  sendCtx.imageSmoothingEnabled = true;
  sendCtx.imageSmoothingQuality = "high";
  sendCtx.drawImage(pad, 0, 0, SEND_SIDE, SEND_SIDE);
  sendCanvas.toBlob(async (blob) => {
    await send(blob, "image/png");
    if (dirty) predictPad();
    else document.body.dataset.busy = "no";
  }, "image/png");
}

function point(event) {
  const box = pad.getBoundingClientRect();
  return {
    x: ((event.clientX - box.left) * pad.width) / box.width,
    y: ((event.clientY - box.top) * pad.height) / box.height,
  };
}

function stroke(from, to) {
  ctx.strokeStyle = "#000";
  ctx.lineWidth = inkWidth;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(from.x, from.y);
  ctx.lineTo(to.x, to.y);
  ctx.stroke();
  hasInk = true;
}

// Pointer events cover the mouse, touch and pens alike.
pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  if (showingUpload) clearPad();
  undoStack.push(ctx.getImageData(0, 0, pad.width, pad.height));
  if (undoStack.length > UNDO_STEPS) undoStack.shift();
  undoButton.disabled = false;
  pad.setPointerCapture(event.pointerId);
  drawing = true;
  last = point(event);
  stroke(last, last);
  predictPad();
});
pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const here = point(event);
  stroke(last, here);
  last = here;
  predictPad();
});
for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, () => {
    if (!drawing) return;
    drawing = false;
    predictPad();
  });
}

undoButton.addEventListener("click", () => {
  const before = undoStack.pop();
  if (!before) return;
  ctx.putImageData(before, 0, 0);
  undoButton.disabled = undoStack.length === 0;
  // The pad is blank again when there is nothing left to undo.
  hasInk = undoStack.length > 0;
  if (hasInk) {
    predictPad();
  } else {
    resetResult();
    setStatus("");
  }
});

pen.addEventListener("input", () => {
  inkWidth = Number(pen.value);
  penWidth.textContent = `${inkWidth} px`;
});

document.getElementById("clear").addEventListener("click", () => {
  clearPad();
  resetResult();
  setStatus("");
});

function drawPreview(bitmap) {
  clearPad();
  const scale = Math.min(pad.width / bitmap.width, pad.height / bitmap.height);
  const w = bitmap.width * scale;
  const h = bitmap.height * scale;
  ctx.drawImage(bitmap, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
  showingUpload = true;
}

function scaledPng(bitmap, side) {
  const scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  const c = canvas.getContext("2d");
  c.fillStyle = "#fff"; // transparent parts are paper
  c.fillRect(0, 0, canvas.width, canvas.height);
  c.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
}

uploadInput.addEventListener("change", async () => {
  const file = uploadInput.files[0];
  uploadInput.value = "";
  if (!file) return;
  let bitmap = null;
  try {
    bitmap = await createImageBitmap(file);
  } catch (error) {
    bitmap = null;
  }
  if (bitmap) drawPreview(bitmap);
  else clearPad();
  showSource(file.name);
  let body = file;
  let type = file.type;
  const fits =
    (type === "image/png" || type === "image/jpeg") &&
    file.size <= limits.max_body_bytes &&
    (!bitmap || bitmap.width * bitmap.height <= limits.max_image_pixels);
  if (!fits) {
    if (!bitmap) {
      setStatus(`${file.name}: the browser cannot open this file as a picture`, true);
      return;
    }
    // Another format, or too large: send it as a smaller PNG.
    body = await scaledPng(bitmap, UPLOAD_SIDE);
    type = "image/png";
  }
  setStatus(`reading ${file.name}\u2026`);
  await send(body, type);
  document.body.dataset.busy = "no";
});

async function loadModel() {
  try {
    const response = await fetch("model");
    const info = await response.json();
    limits = info.limits || limits;
    makeBars(info.classes);
    const params = info.params || {};
    const parts = [info.file || info.estimator];
    if (params.hidden_size) parts.push(`${params.n_hidden_layers || 2} x ${params.hidden_size} hidden units`);
    if (info.validation_accuracy != null) {
      parts.push(`validation accuracy ${(100 * info.validation_accuracy).toFixed(1)}%`);
    }
    modelInfo.textContent = parts.join(" \u00b7 ");
  } catch (error) {
    modelInfo.textContent = "";
    setStatus(`the model's description cannot be read: ${error.message}`, true);
  }
}

clearPad();
resetResult();
loadModel();

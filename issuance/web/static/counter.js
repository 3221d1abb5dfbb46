// The counter's photo: a file or a frame of the counter camera, cropped to the card's
// photo frame (4:5) on a canvas, kept as a JPEG in the form, previewed on a card face
// drawn by the server's face renderer.
(function () {
  "use strict";
  const form = document.getElementById("apply-form");
  if (!form) return;
  const canvas = document.getElementById("photo-crop");
  const ctx = canvas.getContext("2d");
  const data = document.getElementById("photo-data");
  const zoom = document.getElementById("photo-zoom");
  const video = document.getElementById("camera");
  const shoot = document.getElementById("camera-shoot");
  const face = document.getElementById("face-preview");
  const problem = document.getElementById("preview-error");
  let source = null;
  let dx = 0, dy = 0;

  function draw() {
    ctx.fillStyle = "#f4f6fa";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (!source) return;
    const sw = source.width, sh = source.height;
    const cover = Math.max(canvas.width / sw, canvas.height / sh) * (zoom.value / 100);
    const w = sw * cover, h = sh * cover;
    const x = (canvas.width - w) / 2 + dx, y = (canvas.height - h) / 2 + dy;
    ctx.drawImage(source, x, y, w, h);
    data.value = canvas.toDataURL("image/jpeg", 0.9);
  }

  function use(image) {
    source = image; dx = 0; dy = 0; zoom.value = 100;
    draw();
    preview();
  }

  function load(url) {
    const image = new Image();
    image.onload = function () { use(image); };
    image.src = url;
  }

  document.getElementById("photo-file").addEventListener("change", function (e) {
    const file = e.target.files && e.target.files[0];
    if (file) load(URL.createObjectURL(file));
  });
  zoom.addEventListener("input", draw);
  canvas.addEventListener("keydown", function (e) {
    const moves = {ArrowLeft: [-8, 0], ArrowRight: [8, 0], ArrowUp: [0, -8], ArrowDown: [0, 8]};
    const m = moves[e.key];
    if (!m || !source) return;
    dx += m[0]; dy += m[1];
    e.preventDefault();
    draw();
  });

  const start = document.getElementById("camera-start");
  if (!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia)) {
    start.disabled = true;
    start.title = "此浏览器或页面不允许使用摄像头（需要 https 或本机地址）";
  }
  start.addEventListener("click", async function () {
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({video: true});
      video.hidden = false;
      await video.play();  // the first frame is there: its size is known
      shoot.hidden = false; shoot.focus();
    } catch (err) {
      problem.hidden = false;
      problem.textContent = "无法打开摄像头：" + err.message;
    }
  });
  shoot.addEventListener("click", function () {
    if (!video.videoWidth) return;
    const still = document.createElement("canvas");
    still.width = video.videoWidth; still.height = video.videoHeight;
    still.getContext("2d").drawImage(video, 0, 0);
    video.srcObject.getTracks().forEach(function (t) { t.stop(); });
    video.hidden = true; shoot.hidden = true;
    use(still);
  });

  async function preview() {
    if (!data.value) return;
    const body = new FormData(form);
    const response = await fetch("/counter/preview", {
      method: "POST", body: body, credentials: "same-origin",
      headers: {"X-CSRF-Token": body.get("csrf")},
    });
    if (response.ok) {
      face.src = URL.createObjectURL(await response.blob());
      face.alt = "卡面预览：" + (body.get("name") || "");
      problem.hidden = true;
    } else {
      const errors = (await response.json()).errors || [];
      problem.hidden = false;
      problem.textContent = "暂不能预览：" + [].concat(errors).join("；");
    }
  }
  document.getElementById("preview-button").addEventListener("click", preview);

  if (data.value) load(data.value);
  else draw();
})();

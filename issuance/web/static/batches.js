// Batch upload with XMLHttpRequest, for its upload progress events; the rejects come back
// as an HTML table, an accepted batch as its address.
(function () {
  "use strict";
  const form = document.getElementById("batch-form");
  if (!form) return;
  const box = document.getElementById("upload-progress");
  const bar = document.getElementById("upload-bar");
  const percent = document.getElementById("upload-percent");
  const status = document.getElementById("upload-status");
  const result = document.getElementById("batch-result");
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    const body = new FormData(form);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRF-Token", body.get("csrf"));
    xhr.setRequestHeader("Idempotency-Key", "batch-page-" + form.dataset.key);
    box.hidden = false;
    status.textContent = "正在上传…";
    xhr.upload.addEventListener("progress", function (ev) {
      if (!ev.lengthComputable) return;
      const p = Math.round(100 * ev.loaded / ev.total);
      bar.value = p; percent.textContent = p + "%";
      if (p === 100) status.textContent = "上传完成，正在检查…";
    });
    xhr.addEventListener("load", function () {
      if (xhr.status === 201) {
        const batch = JSON.parse(xhr.responseText).batch;
        status.textContent = "已受理批次 " + batch.id;
        window.location.href = "/batches/" + batch.id;
      } else if (xhr.status === 422) {
        status.textContent = "检查未通过";
        result.innerHTML = xhr.responseText;
        form.dataset.key = String(Date.now()) + String(Math.random()).slice(2);
      } else {
        status.textContent = "上传失败（" + xhr.status + "）";
      }
    });
    xhr.addEventListener("error", function () { status.textContent = "网络错误，上传未完成"; });
    xhr.send(body);
  });
})();

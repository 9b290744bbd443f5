/* ecert scanner (/scan): "ask the citizen's wallet" (OpenID4VP 1.0, docs/openid4vc.md).
 *
 * Beside "scan the citizen's QR": the venue creates a request for the chosen scene
 * (POST /api/v1/verify/requests), shows its QR code (any OpenID4VP wallet, or the
 * ecert web wallet through a phone's camera), polls GET /api/v1/verify/requests/{id}
 * until the wallet answered, and shows the result as a scan's (scan.js's showResult).
 */
(function () {
  "use strict";

  var E = window.Ecert;
  var $ = E.$;
  var POLL = 1500;
  var TEXTS = {
    zh: {
      ask: "请市民的钱包出示",
      ask_hint: "市民用钱包扫描此码，确认后即出示所需信息。",
      any_wallet: "任何 OpenID4VP 钱包",
      web_wallet: "ecert 网页钱包（手机相机）",
      waiting: "等待市民的钱包回应…",
      expires: "{s} 秒后失效",
      expired: "请求已过期，请重新发起。",
      cancel: "取消",
      failed: "无法发起请求：",
      qr_alt: "出示请求二维码",
    },
    en: {
      ask: "Ask the citizen's wallet",
      ask_hint: "The citizen scans this code with their wallet and consents to show what is needed.",
      any_wallet: "Any OpenID4VP wallet",
      web_wallet: "ecert web wallet (phone camera)",
      waiting: "Waiting for the citizen's wallet…",
      expires: "Expires in {s} s",
      expired: "The request expired: ask again.",
      cancel: "Cancel",
      failed: "The request could not be made: ",
      qr_alt: "QR code of the request",
    },
  };
  var T = TEXTS[E.lang] || TEXTS.zh;
  var current = null;

  function qrImage(text) {
    var qr = window.qrcode(0, "M");
    qr.addData(text, "Byte");
    qr.make();
    var img = E.el("img", "oid4vp-qr");
    img.src = qr.createDataURL(6, 12);
    img.alt = T.qr_alt;
    img.width = img.height = Math.min(320, qr.getModuleCount() * 6 + 24);
    return img;
  }

  function stop() {
    if (current && current.timer) window.clearTimeout(current.timer);
    current = null;
    var box = $("oid4vp-box");
    if (box) box.hidden = true;
    var ask = $("oid4vp-ask");
    if (ask) ask.hidden = false;
  }

  function show(made) {
    var box = $("oid4vp-box");
    box.textContent = "";
    box.hidden = false;
    $("oid4vp-ask").hidden = true;
    box.appendChild(E.el("p", "lead", T.ask_hint));
    var frame = E.el("div", "oid4vp-frame");
    box.appendChild(frame);
    var toggle = E.el("button", "button secondary block", T.web_wallet);
    toggle.type = "button";
    toggle.id = "oid4vp-toggle";
    var forWeb = false;
    function draw() {
      frame.textContent = "";
      frame.appendChild(qrImage(forWeb ? made.link : made.qr));
      frame.appendChild(E.el("p", "muted small", forWeb ? T.web_wallet : T.any_wallet));
      toggle.textContent = forWeb ? T.any_wallet : T.web_wallet;
    }
    toggle.addEventListener("click", function () {
      forWeb = !forWeb;
      draw();
    });
    draw();
    box.appendChild(toggle);
    var status = E.el("p", "oid4vp-status", T.waiting);
    status.id = "oid4vp-status";
    status.setAttribute("role", "status");
    box.appendChild(status);
    var cancel = E.el("button", "button link", T.cancel);
    cancel.type = "button";
    cancel.addEventListener("click", stop);
    box.appendChild(cancel);
  }

  function poll(key, made) {
    if (!current || current.id !== made.id) return;
    var left = Math.max(0, made.expires_at - Math.floor(Date.now() / 1000));
    var status = $("oid4vp-status");
    if (status) status.textContent = T.waiting + " " + E.fmt(T.expires, { s: left });
    E.api("GET", "/api/v1/verify/requests/" + encodeURIComponent(made.id), { token: key })
      .then(function (r) {
        if (!current || current.id !== made.id) return;
        if (r.ok && r.data && r.data.state === "answered") {
          stop();
          window.EcertScan.showResult(r.data.result);
          return;
        }
        if (r.ok && r.data && r.data.state === "expired") {
          stop();
          E.setMessage("scan-error", T.expired);
          return;
        }
        current.timer = window.setTimeout(function () {
          poll(key, made);
        }, POLL);
      })
      .catch(function () {
        if (current) current.timer = window.setTimeout(function () {
          poll(key, made);
        }, POLL * 2);
      });
  }

  function ask() {
    var scan = window.EcertScan;
    var key = scan && scan.key();
    var scene = $("scene").value;
    if (!key || !scene) return;
    E.setMessage("scan-error", "");
    E.api("POST", "/api/v1/verify/requests", { token: key, body: { scene: scene } })
      .then(function (r) {
        if (!r.ok || !r.data) {
          E.setMessage("scan-error", T.failed + E.problemText(r));
          return;
        }
        current = { id: r.data.id, timer: null };
        show(r.data);
        poll(key, r.data);
      })
      .catch(function () {
        E.setMessage("scan-error", T.failed + E.strings.offline);
      });
  }

  function start() {
    var anchor = $("camera-start");
    if (!anchor || !window.EcertScan) return;
    var button = E.el("button", "button secondary block big", T.ask);
    button.type = "button";
    button.id = "oid4vp-ask";
    button.addEventListener("click", ask);
    var box = E.el("div", "oid4vp-box");
    box.id = "oid4vp-box";
    box.hidden = true;
    var panel = anchor.parentNode;
    panel.insertBefore(box, panel.firstChild);
    panel.insertBefore(button, anchor.nextSibling);
    $("next-scan").addEventListener("click", stop);
    $("logout").addEventListener("click", stop);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

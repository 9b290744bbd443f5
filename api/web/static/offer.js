/* ecert web wallet: accept a credential offer (OpenID4VCI 1.0) a department made for the
 * citizen at the counter. The citizen pastes the offer's link
 * (openid-credential-offer://?credential_offer=…) or scans its QR code (where the
 * browser has BarcodeDetector), sees which certificate is offered, types the
 * transaction code the counter gave, and the service redeems the offer for this
 * citizen's own wallet (POST /api/v1/wallet/offers): the card appears in the list. An
 * offer made for someone else is refused (offer_not_yours) before any try is spent.
 *
 * Self-contained: it adds its button and dialog to the cards screen and reads the
 * session token wallet.js keeps; its texts are here, in both languages.
 */
(function () {
  "use strict";

  var E = window.Ecert;
  var $ = E.$;
  var TOKEN_KEY = "ecert.wallet.token";
  var FLASH_KEY = "ecert.wallet.offer-added";
  var ACCEPT_URL = "/api/v1/wallet/offers";
  var METADATA_URL = "/.well-known/openid-credential-issuer";
  var PREFIX = "openid-credential-offer://";

  var TEXTS = {
    zh: {
      open: "添加发证部门提供的证照",
      title: "添加证照",
      intro: "粘贴办事窗口给您的证照领取链接，或扫描其二维码，再输入窗口告知的验证码。",
      link: "证照领取链接",
      scan: "扫描二维码",
      scan_stop: "停止扫描",
      offered: "将添加：{name}",
      code: "验证码",
      code_hint: "{n}位数字，由办事窗口另行告知",
      submit: "添加到钱包",
      cancel: "取消",
      working: "正在添加…",
      added: "“{name}”已添加到您的钱包。",
      not_offer: "这不是本平台的证照领取链接。",
      not_yours: "此证照是发给其他人的，不能添加到您的钱包。",
      wrong_code: "验证码不正确，请核对后重试。",
      wrong_code_left: "验证码不正确，还可尝试{n}次。",
      burnt: "验证码错误次数过多，此链接已失效。请向办事窗口重新申请。",
      expired: "此链接已过期。请向办事窗口重新申请。",
      used: "此链接已使用过。",
      unknown: "此链接无效。请向办事窗口重新申请。",
      failed: "添加失败，请稍后再试。",
      offline: "网络连接不可用，请联网后再试。",
    },
    en: {
      open: "Add a certificate offered by a department",
      title: "Add a certificate",
      intro:
        "Paste the link the counter gave you, or scan its QR code, then enter the code the counter told you.",
      link: "Offer link",
      scan: "Scan the QR code",
      scan_stop: "Stop scanning",
      offered: "To be added: {name}",
      code: "Code",
      code_hint: "{n} digits, given to you separately at the counter",
      submit: "Add to wallet",
      cancel: "Cancel",
      working: "Adding…",
      added: "The {name} was added to your wallet.",
      not_offer: "This is not a certificate offer of this service.",
      not_yours: "This certificate was offered to someone else: it cannot go into your wallet.",
      wrong_code: "Wrong code. Check it and try again.",
      wrong_code_left: "Wrong code. {n} tries left.",
      burnt: "Too many wrong codes: this offer no longer works. Ask the counter for a new one.",
      expired: "This offer has expired. Ask the counter for a new one.",
      used: "This offer was already used.",
      unknown: "This offer is not valid. Ask the counter for a new one.",
      failed: "The certificate could not be added. Try again later.",
      offline: "No network connection. Try again when you are online.",
    },
  };
  var t = TEXTS[E.lang] || TEXTS.zh;

  var state = { metadata: null, offer: null, stream: null, scanning: false };

  /** An element with attributes (a boolean one as "") and children (strings or nodes). */
  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function token() {
    try {
      return window.sessionStorage.getItem(TOKEN_KEY);
    } catch (e) {
      return null;
    }
  }

  /** The Credential Offer object of a link (by value), or null. */
  function parseOffer(text) {
    var raw = String(text || "").trim();
    if (raw.indexOf(PREFIX) !== 0) return null;
    var query = raw.slice(raw.indexOf("?") + 1);
    var value = null;
    query.split("&").forEach(function (part) {
      var eq = part.indexOf("=");
      if (eq > 0 && part.slice(0, eq) === "credential_offer") {
        try {
          value = JSON.parse(decodeURIComponent(part.slice(eq + 1).replace(/\+/g, " ")));
        } catch (e) {
          value = null;
        }
      }
    });
    return value && typeof value === "object" ? value : null;
  }

  function grantOf(offer) {
    var grants = (offer && offer.grants) || {};
    return grants["urn:ietf:params:oauth:grant-type:pre-authorized_code"] || null;
  }

  function metadata() {
    if (state.metadata) return Promise.resolve(state.metadata);
    return E.api("GET", METADATA_URL).then(function (r) {
      if (r.ok) state.metadata = r.data;
      return state.metadata;
    });
  }

  /** The offered certificate's name in the page's language (from our issuer metadata). */
  function offeredName(offer) {
    var ids = (offer && offer.credential_configuration_ids) || [];
    var configs = (state.metadata && state.metadata.credential_configurations_supported) || {};
    var config = configs[ids[0]];
    var display = (config && config.credential_metadata && config.credential_metadata.display) || [];
    var want = E.lang === "en" ? "en" : "zh";
    for (var i = 0; i < display.length; i++) {
      if (String(display[i].locale || "").indexOf(want) === 0) return display[i].name;
    }
    return display.length ? display[0].name : ids[0] || "";
  }

  function showOffer() {
    var text = $("offer-link").value;
    var offer = parseOffer(text);
    state.offer = offer;
    var summary = $("offer-summary");
    var grant = grantOf(offer);
    var length = (grant && grant.tx_code && grant.tx_code.length) || 6;
    $("offer-code-hint").textContent = E.fmt(t.code_hint, { n: length });
    $("offer-code").maxLength = length;
    if (!offer || !grant) {
      summary.hidden = true;
      if (text.trim()) E.setMessage("offer-error", t.not_offer);
      return;
    }
    E.setMessage("offer-error", "");
    metadata().then(function () {
      if (state.offer !== offer) return;
      summary.textContent = E.fmt(t.offered, { name: offeredName(offer) });
      summary.hidden = false;
    });
  }

  function refusal(r) {
    var code = r && r.data && r.data.code;
    if (code === "offer_not_yours") return t.not_yours;
    if (code === "oid4vci_tx_code_wrong") {
      var left = /\((\d+) tries left\)/.exec((r.data && r.data.detail) || "");
      return left ? E.fmt(t.wrong_code_left, { n: left[1] }) : t.wrong_code;
    }
    if (code === "oid4vci_offer_burnt") return t.burnt;
    if (code === "oid4vci_offer_expired") return t.expired;
    if (code === "oid4vci_offer_used" || code === "oid4vci_credential_denied") return t.used;
    if (code === "oid4vci_grant_invalid") return t.unknown;
    if (code === "oid4vci_request_invalid") return t.not_offer;
    return t.failed;
  }

  function submit(event) {
    event.preventDefault();
    var link = $("offer-link").value.trim();
    var code = $("offer-code").value.trim();
    if (!parseOffer(link)) {
      E.setMessage("offer-error", t.not_offer);
      $("offer-link").focus();
      return;
    }
    if (!code) {
      $("offer-code").focus();
      return;
    }
    var button = $("offer-submit");
    button.disabled = true;
    button.textContent = t.working;
    var name = "";
    // the name comes from the issuer metadata: wait for it, so that the notice after the
    // reload names the certificate, never its configuration id
    metadata()
      .then(function () {
        name = offeredName(parseOffer(link));
        return E.api("POST", ACCEPT_URL, { token: token(), body: { offer: link, tx_code: code } });
      })
      .then(function (r) {
        if (r.status === 201) {
          try {
            window.sessionStorage.setItem(FLASH_KEY, name);
          } catch (e) {
            /* no flash: the new card shows anyway */
          }
          window.location.reload();
          return;
        }
        E.setMessage("offer-error", refusal(r));
        $("offer-code").select();
      })
      .catch(function () {
        E.setMessage("offer-error", t.offline);
      })
      .then(function () {
        button.disabled = false;
        button.textContent = t.submit;
      });
  }

  // -- scanning (BarcodeDetector, where the browser has it) ------------------------------

  function stopScan() {
    state.scanning = false;
    if (state.stream) {
      state.stream.getTracks().forEach(function (track) {
        track.stop();
      });
      state.stream = null;
    }
    $("offer-video").hidden = true;
    $("offer-scan").textContent = t.scan;
  }

  function scan() {
    if (state.scanning) {
      stopScan();
      return;
    }
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    var video = $("offer-video");
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: "environment" } })
      .then(function (stream) {
        state.stream = stream;
        state.scanning = true;
        video.srcObject = stream;
        video.hidden = false;
        $("offer-scan").textContent = t.scan_stop;
        return video.play().then(function () {
          (function look() {
            if (!state.scanning) return;
            detector
              .detect(video)
              .then(function (codes) {
                var found = codes.filter(function (c) {
                  return String(c.rawValue).indexOf(PREFIX) === 0;
                })[0];
                if (found) {
                  $("offer-link").value = found.rawValue;
                  stopScan();
                  showOffer();
                  $("offer-code").focus();
                } else {
                  window.setTimeout(look, 250);
                }
              })
              .catch(function () {
                window.setTimeout(look, 500);
              });
          })();
        });
      })
      .catch(function () {
        stopScan();
      });
  }

  // -- the button and the dialog ---------------------------------------------------------

  function build() {
    var screen = $("screen-cards");
    if (!screen) return;
    var open = h("button", { type: "button", class: "button secondary block", id: "offer-open" }, [t.open]);
    var before = $("device-panel");
    screen.insertBefore(open, before && before.parentNode === screen ? before : null);

    var dialog = h("dialog", { class: "dialog", id: "offer-dialog", "aria-labelledby": "offer-title" }, [
      h("h2", { id: "offer-title" }, [t.title]),
      h("form", { id: "offer-form", class: "form", novalidate: "" }, [
        h("p", { class: "muted small" }, [t.intro]),
        h("div", { class: "field" }, [
          h("label", { for: "offer-link" }, [t.link]),
          h("textarea", { id: "offer-link", rows: "3", spellcheck: "false", autocomplete: "off" }),
        ]),
        h("button", { type: "button", class: "button secondary block", id: "offer-scan", hidden: "" }, [t.scan]),
        h("video", { id: "offer-video", class: "offer-video", muted: "", playsinline: "", hidden: "" }),
        h("p", { id: "offer-summary", class: "message success", hidden: "" }),
        h("div", { class: "field" }, [
          h("label", { for: "offer-code" }, [t.code]),
          h("input", {
            id: "offer-code",
            type: "text",
            inputmode: "numeric",
            autocomplete: "one-time-code",
            pattern: "[0-9]*",
            "aria-describedby": "offer-code-hint",
          }),
          h("p", { id: "offer-code-hint", class: "muted small" }, [E.fmt(t.code_hint, { n: 6 })]),
        ]),
        h("p", { id: "offer-error", class: "message error", role: "alert", hidden: "" }),
        h("div", { class: "dialog-actions" }, [
          h("button", { type: "button", class: "button secondary", id: "offer-cancel" }, [t.cancel]),
          h("button", { type: "submit", class: "button primary", id: "offer-submit" }, [t.submit]),
        ]),
      ]),
    ]);
    document.body.appendChild(dialog);
    // Layout through the CSSOM (the page's CSP allows no inline style attribute).
    open.style.marginTop = "1rem";
    $("offer-link").style.width = "100%";
    $("offer-link").style.boxSizing = "border-box";
    $("offer-video").style.width = "100%";

    if (window.BarcodeDetector && navigator.mediaDevices) $("offer-scan").hidden = false;
    open.addEventListener("click", function () {
      E.setMessage("offer-error", "");
      dialog.showModal();
      $("offer-link").focus();
    });
    $("offer-cancel").addEventListener("click", function () {
      stopScan();
      dialog.close();
    });
    dialog.addEventListener("close", stopScan);
    $("offer-link").addEventListener("input", showOffer);
    $("offer-scan").addEventListener("click", scan);
    $("offer-form").addEventListener("submit", submit);

    var added = null;
    try {
      added = window.sessionStorage.getItem(FLASH_KEY);
      window.sessionStorage.removeItem(FLASH_KEY);
    } catch (e) {
      added = null;
    }
    if (added !== null) {
      var message = E.fmt(t.added, { name: added });
      E.setMessage("cards-notice", message);
      E.announce(message);
    }
  }

  document.addEventListener("DOMContentLoaded", build);
})();

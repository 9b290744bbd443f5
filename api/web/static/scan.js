/* ecert venue scanner (/scan): log in with the venue key, choose the scene, then read
 * the QR code by camera, by an uploaded image, or from a scanner gun that types the text
 * and presses Enter. The verdict fills the screen.
 *
 * The venue key lives in sessionStorage (gone when the tab closes). Camera frames and
 * uploads go to the server's QR decoder (POST /api/v1/verify, multipart `image`).
 */
(function () {
  "use strict";

  var E = window.Ecert;
  var t = E.strings;
  var $ = E.$;

  var KEY = "ecert.scan.key";
  var SCENE_KEY = "ecert.scan.scene";
  var SCENE_SEARCH_FROM = 6; // a venue with more scenes than this gets a search box
  // Images: an upload is sent as it is up to MAX_UPLOAD (the service takes 10 MiB);
  // larger ones, and camera frames, are sent as a greyscale JPEG of at most MAX_SIDE
  // pixels and about MAX_FRAME bytes (a phone's upload stays quick).
  var MAX_UPLOAD = 4 * 1024 * 1024;
  var MAX_SIDE = 1600;
  var MAX_FRAME = 400 * 1024;
  var FRAME_INTERVAL = 700;
  var TRUST_REFRESH = 60;

  // What staff should do about a refused code, by error code (api/pages.py SCAN_VERDICTS:
  // "retry" amber, "recheck" amber, "refuse" red); the gravest code of a result decides,
  // and a code the table does not know is refused.
  var VERDICTS = t.verdicts || {};
  var GRAVITY = { retry: 1, recheck: 2, refuse: 3 };
  var PORTRAIT = /^data:image\/(jpeg|png);base64,[A-Za-z0-9+\/]+={0,2}$/;
  var MAX_PORTRAIT = 16 * 1024;

  var state = {
    key: null,
    scenes: [],
    allScenes: [],
    allScenesLoaded: Promise.resolve(),
    trust: null,
    trustFetched: 0,
    busy: false,
    stream: null,
    frameTimer: null,
  };

  // -- session -------------------------------------------------------------------------

  function storage(name, value) {
    try {
      if (value === undefined) return window.sessionStorage.getItem(name);
      if (value === null) window.sessionStorage.removeItem(name);
      else window.sessionStorage.setItem(name, value);
    } catch (e) {
      /* storage refused: the session lasts as long as the page */
    }
    return null;
  }

  /** The venue's scenes, which also checks the key (401 for a bad one). */
  function fetchScenes(key) {
    return E.api("GET", "/api/v1/scenes", { token: key });
  }

  function onLogin(event) {
    event.preventDefault();
    var key = $("venue-key").value.trim();
    if (!key) {
      E.setMessage("login-error", t.scan_login_failed);
      $("venue-key").focus();
      return;
    }
    var submit = event.target.querySelector("button[type=submit]");
    submit.disabled = true;
    E.setMessage("login-error", "");
    fetchScenes(key)
      .then(function (r) {
        if (r.ok && Array.isArray(r.data)) {
          $("venue-key").value = "";
          state.key = key;
          storage(KEY, key);
          enter(r.data);
        } else if (r.status === 401 || r.status === 403 || r.status === 400) {
          E.setMessage("login-error", t.scan_login_failed);
          $("venue-key").focus();
        } else if (r.status === 429) {
          E.setMessage("login-error", E.fmt(t.rate_limited, { n: E.retryAfter(r) }));
        } else {
          E.setMessage("login-error", E.problemText(r));
        }
      })
      .catch(function () {
        E.setMessage("login-error", t.offline);
      })
      .then(function () {
        submit.disabled = false;
      });
  }

  function logout(message) {
    stopCamera();
    state.key = null;
    storage(KEY, null);
    clearResult();
    E.showScreen("login");
    E.setMessage("login-error", message || "");
  }

  /** After log-in: fill the scene picker and show the scanner. */
  function enter(scenes) {
    state.scenes = scenes;
    var select = $("scene");
    select.textContent = "";
    var remembered = storage(SCENE_KEY);
    if (remembered && sceneById(remembered)) {
      var option = E.el("option", null, "");
      option.value = remembered;
      select.appendChild(option); // kept chosen by fillScenes
      select.value = remembered;
    }
    $("scene-search").value = "";
    $("scene-search-field").hidden = scenes.length <= SCENE_SEARCH_FROM;
    listScenes();
    E.setMessage("scan-error", scenes.length ? "" : t.no_venue_scene);
    showScan();
    refreshTrust();
    // Every scene's name (public), to name the scene a code was made for; a result waits
    // for it (see ready), so a fast first scan does not show a scene's id instead.
    state.allScenesLoaded = E.api("GET", "/api/v1/scenes")
      .then(function (r) {
        if (r.ok && Array.isArray(r.data)) state.allScenes = r.data;
      })
      .catch(function () {
        /* the venue's own scenes still name most */
      });
  }

  /** What a result is drawn with: a fresh trust list and every scene's name. */
  function ready() {
    return Promise.all([refreshTrust(), state.allScenesLoaded]);
  }

  /** The venue's scenes into the picker, grouped by category, filtered by the search. */
  function listScenes() {
    var shown = E.fillScenes($("scene"), state.scenes, $("scene-search").value);
    $("no-scene-match").hidden = state.scenes.length === 0 || shown > 0;
    showNeeds();
  }

  /**
   * What the chosen scene asks of staff, beside the picker: its category, a portrait to
   * match (an online code discloses it), and whether it needs an online check (this page
   * always verifies online; a bundle's offline verifier refuses such a scene).
   */
  function showNeeds() {
    var list = $("scene-needs");
    list.textContent = "";
    var scene = sceneById($("scene").value);
    if (!scene) return;
    if (scene.category) list.appendChild(E.el("li", "need-category", E.local(scene.category.name)));
    if (scene.portrait) list.appendChild(E.el("li", "need-portrait", t.scene_needs_portrait));
    list.appendChild(
      scene.online
        ? E.el("li", "need-online", t.scene_needs_online)
        : E.el("li", "need-offline-ok", t.scene_needs_offline_ok)
    );
  }

  function sceneById(id) {
    for (var i = 0; i < state.scenes.length; i++) if (state.scenes[i].id === id) return state.scenes[i];
    return null;
  }

  /** A scene's name in the page language, from the venue's scenes or the public list. */
  function sceneName(id) {
    var scene = sceneById(id);
    for (var i = 0; !scene && i < state.allScenes.length; i++) {
      if (state.allScenes[i].id === id) scene = state.allScenes[i];
    }
    return scene ? E.local(scene.name) : id;
  }

  /** "retry", "recheck" or "refuse" for a refused result: its gravest code decides. */
  function verdictOf(result) {
    var verdict = "retry";
    var errors = result.errors || [];
    if (!errors.length) return "refuse";
    errors.forEach(function (error) {
      var own = Object.prototype.hasOwnProperty.call(VERDICTS, error.code) ? VERDICTS[error.code] : "refuse";
      if (!GRAVITY[own]) own = "refuse";
      if (GRAVITY[own] > GRAVITY[verdict]) verdict = own;
    });
    return verdict;
  }

  function refreshTrust() {
    var now = Date.now() / 1000;
    if (state.trust && now - state.trustFetched < TRUST_REFRESH) return Promise.resolve(state.trust);
    return E.fetchTrustList().then(function (trust) {
      if (trust) {
        state.trust = trust;
        state.trustFetched = now;
        $("trust-info").textContent = E.fmt(t.trust_list_at, { time: E.formatDateTimeZone(trust.iat) });
      }
      return state.trust;
    });
  }

  // -- scanning ----------------------------------------------------------------------------

  function showScan() {
    clearResult();
    // At a desk (mouse, scanner gun) the QR content field takes the focus, so the next
    // code can be typed at once; on a phone that would only pop up the keyboard.
    var desk = window.matchMedia && window.matchMedia("(pointer: fine)").matches;
    E.showScreen("scan", !desk);
    if (desk) $("qr-text").focus();
  }

  /** Send a QR text or an image; resolves to the API answer. */
  function verify(payload) {
    var scene = $("scene").value;
    if (payload.text !== undefined) {
      return E.api("POST", "/api/v1/verify", { token: state.key, body: { qr: payload.text, scene: scene } });
    }
    var form = new FormData();
    form.append("scene", scene);
    form.append("image", payload.image, payload.name || "qr.jpg");
    return E.api("POST", "/api/v1/verify", { token: state.key, form: form });
  }

  /** An API answer that is not a result: a message for staff, or null for "no QR seen". */
  function problemMessage(r) {
    if (r.status === 401) {
      logout(t.session_expired);
      return "";
    }
    if (r.status === 403) return t.scene_forbidden;
    if (r.status === 429) return E.fmt(t.rate_limited, { n: E.retryAfter(r) });
    return E.problemText(r);
  }

  function isResult(r) {
    return r.ok && r.data && typeof r.data.valid === "boolean";
  }

  /** An image answer without a QR code in it (the decoder found nothing). */
  function noCodeSeen(r) {
    if (r.ok) return isResult(r) && !r.data.valid && !r.data.vct && onlyMalformed(r.data);
    return r.status === 400 && r.data && (r.data.code === "malformed" || r.data.code === "invalid_request");
  }

  function onlyMalformed(result) {
    return (result.errors || []).length > 0 && result.errors.every(function (e) {
      return e.code === "malformed";
    });
  }

  function onText(event) {
    event.preventDefault();
    var input = $("qr-text");
    var text = input.value.replace(/[\r\n]+$/, "");
    if (state.busy) return;
    if (!text.trim()) {
      input.value = "";
      E.setMessage("scan-error", t.scan_empty);
      input.focus();
      return;
    }
    run(verify({ text: text })).then(function () {
      input.value = "";
    });
  }

  /** Run one verification and show its answer. */
  function run(request) {
    state.busy = true;
    E.setMessage("scan-error", t.verifying);
    return Promise.all([request, ready()])
      .then(function (all) {
        var r = all[0];
        if (isResult(r)) {
          E.setMessage("scan-error", "");
          showResult(r.data);
        } else {
          E.setMessage("scan-error", problemMessage(r));
        }
        return r;
      })
      .catch(function () {
        E.setMessage("scan-error", t.offline);
        return null;
      })
      .then(function (r) {
        state.busy = false;
        return r;
      });
  }

  // -- images: upload and camera ---------------------------------------------------------------

  function canvasBlob(canvas, quality) {
    return new Promise(function (resolve) {
      canvas.toBlob(resolve, "image/jpeg", quality);
    });
  }

  /** A greyscale JPEG of the source small enough to upload, or null. */
  function shrink(source, width, height) {
    var scale = Math.min(1, MAX_SIDE / Math.max(width, height));
    var canvas = document.createElement("canvas");
    var attempts = [0.85, 0.7, 0.55];
    function attempt(i) {
      canvas.width = Math.max(1, Math.round(width * scale));
      canvas.height = Math.max(1, Math.round(height * scale));
      var ctx = canvas.getContext("2d");
      ctx.filter = "grayscale(1)";
      ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
      return canvasBlob(canvas, attempts[i % attempts.length]).then(function (blob) {
        if (blob && blob.size <= MAX_FRAME) return blob;
        if (i >= 11) return null;
        if (i % attempts.length === attempts.length - 1) scale *= 0.75;
        return attempt(i + 1);
      });
    }
    return attempt(0);
  }

  function onUpload() {
    var input = $("upload");
    var file = input.files && input.files[0];
    input.value = "";
    if (!file || state.busy) return;
    E.setMessage("scan-error", "");
    stopCamera();
    var prepared =
      file.size <= MAX_UPLOAD && /^image\/(png|jpeg)$/.test(file.type)
        ? Promise.resolve(file)
        : window.createImageBitmap(file).then(function (bitmap) {
            return shrink(bitmap, bitmap.width, bitmap.height);
          });
    prepared
      .then(function (blob) {
        if (!blob) {
          E.setMessage("scan-error", t.upload_failed);
          return null;
        }
        return run(
          verify({ image: blob, name: file.name }).then(function (r) {
            if (noCodeSeen(r)) {
              // Shown as a message, not as a verdict: nothing was read.
              return { ok: false, status: 400, data: { detail: t.upload_failed }, headers: r.headers };
            }
            return r;
          })
        );
      })
      .catch(function () {
        E.setMessage("scan-error", t.upload_failed);
      });
  }

  function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      E.setMessage("scan-error", t.camera_unsupported);
      return;
    }
    E.setMessage("scan-error", "");
    navigator.mediaDevices
      .getUserMedia({
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      })
      .then(function (stream) {
        state.stream = stream;
        var video = $("camera");
        video.srcObject = stream;
        $("camera-box").hidden = false;
        $("camera-start").hidden = true;
        $("camera-stop").hidden = false;
        $("camera-status").textContent = t.camera_looking;
        return video.play().then(function () {
          scheduleFrame();
        });
      })
      .catch(function (err) {
        stopCamera();
        E.setMessage("scan-error", E.fmt(t.camera_failed, { reason: (err && err.name) || "" }));
      });
  }

  function stopCamera() {
    if (state.frameTimer) window.clearTimeout(state.frameTimer);
    state.frameTimer = null;
    if (state.stream) {
      state.stream.getTracks().forEach(function (track) {
        track.stop();
      });
    }
    state.stream = null;
    var video = $("camera");
    if (video) video.srcObject = null;
    if ($("camera-box")) {
      $("camera-box").hidden = true;
      $("camera-start").hidden = false;
      $("camera-stop").hidden = true;
    }
  }

  function scheduleFrame() {
    if (!state.stream) return;
    state.frameTimer = window.setTimeout(sendFrame, FRAME_INTERVAL);
  }

  /** Send one camera frame to the decoder; keep looking until a QR code is read. */
  function sendFrame() {
    var video = $("camera");
    if (!state.stream || state.busy || !video.videoWidth) {
      scheduleFrame();
      return;
    }
    state.busy = true;
    shrink(video, video.videoWidth, video.videoHeight)
      .then(function (blob) {
        if (!blob) return null;
        return verify({ image: blob, name: "frame.jpg" });
      })
      .then(function (r) {
        state.busy = false;
        if (!state.stream || !r) return scheduleFrame();
        if (noCodeSeen(r)) return scheduleFrame();
        stopCamera();
        if (isResult(r)) {
          ready().then(function () {
            showResult(r.data);
          });
        } else {
          E.setMessage("scan-error", problemMessage(r));
        }
      })
      .catch(function () {
        state.busy = false;
        scheduleFrame();
      });
  }

  // -- the result ----------------------------------------------------------------------------

  function clearResult() {
    var box = $("result");
    box.textContent = "";
    box.className = "result";
  }

  function labelsFor(sceneId, vct) {
    var scene = sceneById(sceneId);
    if (!scene) return {};
    var entries = scene.accept.concat(scene.all_of || []);
    for (var i = 0; i < entries.length; i++) {
      if (entries[i].vct === vct) return entries[i];
    }
    // a type the scene does not list itself (a guardian's link): any scene that names it
    var list = state.allScenes || [];
    for (var j = 0; j < list.length; j++) {
      var more = (list[j].accept || []).concat(list[j].all_of || []);
      for (var k = 0; k < more.length; k++) if (more[k].vct === vct) return more[k];
    }
    return {};
  }

  /** A credential type's name in the page language (the catalogue's), else its vct. */
  function typeName(sceneId, vct) {
    var entry = labelsFor(sceneId, vct);
    return entry.name ? E.local(entry.name) : vct;
  }

  /** One credential's claims as a list of labelled fields, in the scene's order. */
  function claimList(claims, accept) {
    var names = Object.keys(claims || {}).filter(function (name) {
      return name !== "portrait";
    });
    // In the scene's order, as the preview in the wallet showed them.
    var order = accept.claims || [];
    names.sort(function (a, b) {
      return (order.indexOf(a) + 1 || 999) - (order.indexOf(b) + 1 || 999);
    });
    var fields = E.el("dl", "fields claims");
    names.forEach(function (name) {
      var row = E.el("div", "field-row");
      var label = accept.labels && accept.labels[name] ? E.local(accept.labels[name]) : name;
      row.appendChild(E.el("dt", null, label));
      row.appendChild(E.el("dd", null, displayValue(claims[name])));
      fields.appendChild(row);
    });
    return { list: fields, count: names.length };
  }

  /**
   * A set presentation's result (several certificates in one check): one verdict above,
   * then each certificate by its name with its claims; a refused set names the failing
   * certificate in each reason.
   */
  function showSetBody(body, result, scene) {
    var members = result.members || [];
    if (result.valid) {
      body.appendChild(E.el("h2", null, E.fmt(t.result_set, { n: members.length })));
      members.forEach(function (member, index) {
        var section = E.el("section", "set-member");
        section.setAttribute("data-member", String(index));
        section.setAttribute("data-vct", member.vct || "");
        section.appendChild(E.el("h3", "member-name", typeName(result.scene, member.vct)));
        var claims = (result.claims || {})[member.vct] || {};
        showPortrait(section, scene, claims);
        var shown = claimList(claims, labelsFor(result.scene, member.vct));
        if (!shown.count) section.appendChild(E.el("p", "muted", t.result_no_fields));
        section.appendChild(shown.list);
        body.appendChild(section);
      });
      return;
    }
    body.appendChild(E.el("h2", null, t.result_reasons));
    var reasons = E.el("ul", "reasons");
    (result.errors || []).forEach(function (error) {
      var item = E.el("li", "reason");
      if (error.vct) {
        var name = typeName(result.scene, error.vct);
        if (typeof error.member !== "number") name = t.result_member_missing + t.colon + name;
        item.appendChild(E.el("p", "reason-member", name));
        if (typeof error.member === "number") item.setAttribute("data-member", String(error.member));
      }
      var known = t.codes && t.codes[error.code];
      item.appendChild(E.el("p", "reason-text", known ? known[0] : error.message || error.code));
      if (known) item.appendChild(E.el("p", "reason-action", known[1]));
      item.appendChild(E.el("p", "reason-code", error.code));
      reasons.appendChild(item);
    });
    body.appendChild(reasons);
  }

  function displayValue(value) {
    // A yes/no in words as well as a sign: "age 18 or over: no" must not be missed.
    if (value === true) return "✓ " + t.value_yes;
    if (value === false) return "✕ " + t.value_no;
    if (value === null || value === undefined) return "—";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function metaRow(list, label, value) {
    var row = E.el("div", "meta-row");
    row.appendChild(E.el("dt", null, label));
    row.appendChild(E.el("dd", null, value));
    list.appendChild(row);
  }

  /**
   * A scene that asks for a portrait: the photo the online code disclosed, to match the
   * person; or, when the code carries none (offline codes never do), say so.
   */
  function showPortrait(body, scene, claims) {
    if (!scene || !scene.portrait) return;
    var src = claims.portrait;
    if (typeof src === "string" && src.length <= MAX_PORTRAIT && PORTRAIT.test(src)) {
      var box = E.el("div", "portrait");
      var img = E.el("img");
      img.alt = t.portrait_alt;
      img.src = src;
      box.appendChild(img);
      box.appendChild(E.el("p", null, t.portrait_check));
      body.appendChild(box);
    } else {
      body.appendChild(E.el("p", "portrait-none", t.portrait_none));
    }
  }

  /**
   * Who presents for whom (issue 12), from a valid set's link credential: "presented by
   * the guardian 王芳 for 李小明" or "delegated by 张三 to 李四"; null otherwise.
   */
  function delegationLine(result) {
    if (!result.valid || !Array.isArray(result.members) || !result.claims) return null;
    var roles = result.members.map(function (m) {
      return m.role;
    });
    var link;
    if (roles.indexOf("guardianship") >= 0) {
      link = result.claims["urn:ecert:guardianship"] || {};
      return E.fmt(t.presented_by_guardian, { guardian: link.guardian_name || "?", ward: link.ward_name || "?" });
    }
    if (roles.indexOf("care_authorisation") >= 0) {
      link = result.claims["urn:ecert:care-authorisation"] || {};
      return E.fmt(t.delegated_by, { principal: link.principal_name || "?", carer: link.carer_name || "?" });
    }
    return null;
  }

  function showResult(result) {
    var box = $("result");
    box.textContent = "";
    var verdict = result.valid ? null : verdictOf(result);
    box.className = "result " + (result.valid ? "result-valid" : "result-invalid result-" + verdict);
    if (verdict) box.setAttribute("data-verdict", verdict);
    else box.removeAttribute("data-verdict");

    var banner = E.el("div", "verdict-box");
    var line = E.el("p", "verdict-line");
    var icon = result.valid ? "✓" : verdict === "refuse" ? "✕" : "!";
    line.appendChild(E.el("span", "verdict-icon", icon)).setAttribute("aria-hidden", "true");
    line.appendChild(E.el("span", "verdict", result.valid ? t.valid : t.invalid));
    banner.appendChild(line);
    if (verdict) {
      banner.appendChild(E.el("p", "verdict-action", t["scan_verdict_" + verdict]));
      banner.appendChild(E.el("p", "verdict-hint", t["scan_verdict_" + verdict + "_hint"]));
    }
    var scene = sceneById(result.scene);
    banner.appendChild(E.el("p", "verdict-scene", scene ? E.local(scene.name) : result.scene));
    var delegation = delegationLine(result);
    if (delegation) banner.appendChild(E.el("p", "verdict-delegation", delegation));
    box.appendChild(banner);

    var body = E.el("div", "result-body");
    var accept = labelsFor(result.scene, result.vct);
    if (Array.isArray(result.members)) {
      showSetBody(body, result, scene);
    } else if (result.valid) {
      body.appendChild(E.el("h2", null, t.result_fields));
      showPortrait(body, scene, result.claims || {});
      var names = Object.keys(result.claims || {}).filter(function (name) {
        return name !== "portrait";
      });
      // In the scene's order, as the preview in the wallet showed them.
      var order = accept.claims || [];
      names.sort(function (a, b) {
        return (order.indexOf(a) + 1 || 999) - (order.indexOf(b) + 1 || 999);
      });
      if (!names.length) body.appendChild(E.el("p", "muted", t.result_no_fields));
      var fields = E.el("dl", "fields claims");
      names.forEach(function (name) {
        var row = E.el("div", "field-row");
        var label = accept.labels && accept.labels[name] ? E.local(accept.labels[name]) : name;
        row.appendChild(E.el("dt", null, label));
        var value = row.appendChild(E.el("dd", null, displayValue(result.claims[name])));
        if (result.claims[name] === false) value.className = "value-no";
        fields.appendChild(row);
      });
      body.appendChild(fields);
    } else {
      body.appendChild(E.el("h2", null, t.result_reasons));
      if (typeof result.made_for === "string" && result.made_for !== result.scene) {
        var here = scene ? E.local(scene.name) : result.scene;
        body.appendChild(
          E.el("p", "made-for", E.fmt(t.scan_made_for, { scene: sceneName(result.made_for), here: here }))
        );
      }
      var reasons = E.el("ul", "reasons");
      (result.errors || []).forEach(function (error) {
        var item = E.el("li", "reason");
        var known = t.codes && t.codes[error.code];
        item.appendChild(E.el("p", "reason-text", known ? known[0] : error.message || error.code));
        if (known) item.appendChild(E.el("p", "reason-action", known[1]));
        item.appendChild(E.el("p", "reason-code", error.code));
        reasons.appendChild(item);
      });
      body.appendChild(reasons);
    }

    var meta = E.el("dl", "meta");
    if (result.vct) metaRow(meta, t.result_type, accept.name ? E.local(accept.name) : result.vct);
    if (Array.isArray(result.members)) {
      var memberNames = result.members.map(function (member) {
        return typeName(result.scene, member.vct);
      });
      metaRow(meta, t.result_type, memberNames.join(E.lang === "zh" ? "、" : ", "));
    }
    if (result.iss) metaRow(meta, t.result_issuer, E.issuerName(state.trust, result.iss));
    metaRow(meta, t.result_checked_at, E.formatDateTimeZone(result.checked_at));
    if (state.trust && state.trust.iat) metaRow(meta, t.result_trust_list, E.formatDateTimeZone(state.trust.iat));
    body.appendChild(meta);
    box.appendChild(body);

    E.showScreen("result", false);
    $("next-scan").focus({ preventScroll: true });
  }

  // A scanner gun types straight away: the first printable key on the result screen
  // goes back to the scanner, into the QR content field.
  document.addEventListener("keydown", function (event) {
    if (document.body.getAttribute("data-screen") !== "result") return;
    if (event.ctrlKey || event.metaKey || event.altKey || event.key.length !== 1 || event.key === " ") return;
    showScan();
  });

  // The venue's OpenID4VP requests (scan_oid4vp.js) show their answer as a scan's.
  window.EcertScan = {
    showResult: function (result) {
      ready().then(function () {
        showResult(result);
      });
    },
    key: function () {
      return state.key;
    },
  };

  // -- start ---------------------------------------------------------------------------------

  function start() {
    $("login-form").addEventListener("submit", onLogin);
    $("qr-form").addEventListener("submit", onText);
    $("upload").addEventListener("change", onUpload);
    $("camera-start").addEventListener("click", startCamera);
    $("camera-stop").addEventListener("click", stopCamera);
    $("next-scan").addEventListener("click", showScan);
    $("logout").addEventListener("click", function () {
      logout("");
    });
    $("scene").addEventListener("change", function () {
      storage(SCENE_KEY, $("scene").value);
      showNeeds();
    });
    $("scene-search").addEventListener("input", function () {
      listScenes();
      if ($("scene").value) storage(SCENE_KEY, $("scene").value);
    });
    // The next scan starts: an old error goes.
    $("qr-text").addEventListener("input", function () {
      if (!state.busy) E.setMessage("scan-error", "");
    });

    state.key = storage(KEY);
    if (!state.key) {
      E.showScreen("login");
      return;
    }
    fetchScenes(state.key)
      .then(function (r) {
        if (r.ok && Array.isArray(r.data)) enter(r.data);
        else logout(r.status === 401 ? t.session_expired : "");
      })
      .catch(function () {
        logout(t.offline);
      });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

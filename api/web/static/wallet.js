/* ecert web wallet (/wallet): log in, certificates as cards, a scene, a preview of the
 * fields shown, a self-refreshing QR code (offline or online), the activity log; a full
 * card view (fields masked until tapped) with "remove from wallet"; the consents
 * (授权: departments' requests to approve or decline, granted ones to withdraw in one tap);
 * log out from the header menu. Switching language keeps the screen (sessionStorage, RESUME_KEY).
 *
 * The session token lives in sessionStorage (gone when the tab closes). The service
 * worker (/wallet-sw.js) keeps the page and the last card list for offline reading.
 */
(function () {
  "use strict";

  var E = window.Ecert;
  var t = E.strings;
  var $ = E.$;
  // This browser as the citizen's device (device.js): its key, its copies, offline QR.
  var D = window.EcertDevice;

  var TOKEN_KEY = "ecert.wallet.token";
  // Where the citizen was when switching language: {screen, card, scene, online, at}.
  var RESUME_KEY = "ecert.wallet.resume";
  var RESUME_FOR = 120; // seconds a saved place is good for
  var SCENE_SEARCH_FROM = 6; // a card's scene list longer than this gets a search box
  var DATA_CACHE = "ecert-wallet-data";
  var CARDS_URL = "/api/v1/wallet/credentials";
  /** Where the phone hands over an online presentation it made, to be held. */
  var HELD_URL = "/api/v1/wallet/presentations";
  // Make the next QR this many seconds before the current one expires (or a fifth of
  // its lifetime, if that is shorter), so that a code being scanned is still fresh.
  var REFRESH_MARGIN = 15;

  var state = {
    token: null,
    cards: [],
    offline: false,
    scenes: null,
    trust: null,
    card: null,
    claims: null,
    qr: null, // {id, expiresAt, lifetime, offset, url}
    timer: null,
    generation: 0,
    revealed: {}, // full card view: claim name -> shown in clear (until the screen is left)
    details: null, // full card view: {id, claims, fields} of the card it shows
    resume: null, // where to go back to after a language switch
  };

  // -- session -------------------------------------------------------------------------

  function loadToken() {
    try {
      return window.sessionStorage.getItem(TOKEN_KEY);
    } catch (e) {
      return null;
    }
  }

  function saveToken(token) {
    state.token = token;
    try {
      if (token) window.sessionStorage.setItem(TOKEN_KEY, token);
      else window.sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) {
      /* storage refused: the session lasts as long as the page */
    }
  }

  /** An API call with the session token; a 401 ends the session. */
  function authed(method, path, options) {
    options = options || {};
    options.token = state.token;
    return E.api(method, path, options).then(function (r) {
      if (r.status === 401) {
        endSession(t.session_expired);
        throw new Error("session ended");
      }
      return r;
    });
  }

  function endSession(message) {
    stopQr();
    saveToken(null);
    state.cards = [];
    state.card = null;
    state.claims = null;
    state.details = null;
    state.revealed = {};
    $("tabbar").hidden = true;
    closeMenu();
    $("menu-button").hidden = true;
    go("login", { replace: true });
    E.setMessage("login-error", message || "");
  }

  function logout() {
    var token = state.token;
    if (token) {
      E.api("POST", "/api/v1/auth/logout", { token: token }).catch(function () {});
    }
    // The saved card list is this citizen's: forget it on this device.
    if (window.caches) window.caches.delete(DATA_CACHE).catch(function () {});
    // The device key and its copies stay (IndexedDB): the phone still shows codes offline.
    if (D) D.onLogout();
    endSession("");
  }

  // -- navigation ----------------------------------------------------------------------

  var renderers = {
    login: showLogin,
    cards: showCards,
    card: showCard,
    qr: showQrScreen,
    details: showDetails,
    activity: showActivity,
    consents: showConsents,
  };

  /** Show a screen; push a history entry so that the phone's back button works. */
  function go(screen, options) {
    options = options || {};
    if (screen !== "qr") stopQr();
    var entry = { screen: screen };
    if (options.replace) window.history.replaceState(entry, "");
    else window.history.pushState(entry, "");
    render(screen);
  }

  function render(screen) {
    if (!state.token && !state.offline && screen !== "login") screen = "login";
    if ((screen === "card" || screen === "qr" || screen === "details") && !state.card) screen = "cards";
    // The full card view shows fields in clear only while it is on screen.
    if (screen !== "details") state.revealed = {};
    if (screen !== "cards") E.setMessage("cards-notice", "");
    closeMenu();
    $("tabbar").hidden = screen === "login";
    $("menu-button").hidden = screen === "login" || !state.token;
    var tabs = document.querySelectorAll("[data-nav]");
    for (var i = 0; i < tabs.length; i++) {
      var nav = screen === "activity" || screen === "consents" ? screen : "cards";
      var current = tabs[i].getAttribute("data-nav") === nav;
      if (current) tabs[i].setAttribute("aria-current", "page");
      else tabs[i].removeAttribute("aria-current");
    }
    E.showScreen(screen);
    renderers[screen]();
  }

  window.addEventListener("popstate", function (event) {
    var screen = (event.state && event.state.screen) || (state.token ? "cards" : "login");
    if (screen !== "qr") stopQr();
    render(screen);
  });

  // -- login ---------------------------------------------------------------------------

  function showLogin() {
    var button = $("offline-cards");
    button.hidden = true;
    Promise.all([savedCards(), deviceOffline()]).then(function (both) {
      button.hidden = !(both[0] || both[1]) || navigator.onLine !== false;
    });
  }

  function onLogin(event) {
    event.preventDefault();
    var id = $("citizen-id").value.trim();
    var password = $("password").value;
    if (!id || !password) {
      E.setMessage("login-error", t.login_missing);
      (id ? $("password") : $("citizen-id")).focus();
      return;
    }
    var submit = event.target.querySelector("button[type=submit]");
    submit.disabled = true;
    submit.textContent = t.logging_in;
    E.setMessage("login-error", "");
    E.api("POST", "/api/v1/auth/login", { body: { citizen_id: id, password: password } })
      .then(function (r) {
        if (r.ok && r.data && r.data.access_token) {
          $("password").value = "";
          saveToken(r.data.access_token);
          state.offline = false;
          go("cards", { replace: true });
          deviceLogin(id, r.data.access_token);
        } else if (r.status === 429) {
          E.setMessage("login-error", E.fmt(t.rate_limited, { n: E.retryAfter(r) }));
        } else if (r.status === 401 || r.status === 400) {
          E.setMessage("login-error", t.login_failed);
          $("password").focus();
        } else {
          E.setMessage("login-error", E.problemText(r));
        }
      })
      .catch(function () {
        E.setMessage("login-error", t.offline);
        showLogin();
        $("offline-cards").hidden = false;
      })
      .then(function () {
        submit.disabled = false;
        submit.textContent = t.log_in;
      });
  }

  // -- reference data: scenes and issuer names -------------------------------------------

  function loadReference() {
    var scenes = state.scenes
      ? Promise.resolve(state.scenes)
      : E.api("GET", "/api/v1/scenes")
          .then(function (r) {
            if (r.ok && Array.isArray(r.data)) state.scenes = r.data;
            return state.scenes;
          })
          .catch(function () {
            return null;
          });
    var trust = state.trust
      ? Promise.resolve(state.trust)
      : E.fetchTrustList().then(function (value) {
          state.trust = value;
          return value;
        });
    return Promise.all([scenes, trust]).then(function (both) {
      var kept = D && D.state.data;
      if (!state.scenes && kept && kept.scenes) state.scenes = kept.scenes;
      if (!state.trust && kept && kept.trust) state.trust = kept.trust;
      return [state.scenes, state.trust];
    });
  }

  function scenesFor(vct) {
    return (state.scenes || []).filter(function (scene) {
      return !!acceptOf(scene, vct);
    });
  }

  /** The scene's entry for a type: in `accept` (one of), else in `all_of` (a set). */
  function acceptOf(scene, vct) {
    for (var i = 0; i < scene.accept.length; i++) {
      if (scene.accept[i].vct === vct) return scene.accept[i];
    }
    var all = scene.all_of || [];
    for (var j = 0; j < all.length; j++) if (all[j].vct === vct) return all[j];
    return null;
  }

  /**
   * Whether the scene takes this type only with others, in one set presentation (all_of).
   * The service makes the set (the newest usable card of each type), with its own key.
   */
  function isSetFor(scene, vct) {
    if (!scene || !scene.all_of || !scene.all_of.length) return false;
    for (var i = 0; i < scene.accept.length; i++) if (scene.accept[i].vct === vct) return false;
    return scene.all_of.some(function (a) {
      return a.vct === vct;
    });
  }

  function sceneById(id) {
    var list = state.scenes || [];
    for (var i = 0; i < list.length; i++) if (list[i].id === id) return list[i];
    return null;
  }

  function claimLabel(vct, claim) {
    var list = state.scenes || [];
    for (var i = 0; i < list.length; i++) {
      var accept = acceptOf(list[i], vct);
      if (accept && accept.labels && accept.labels[claim]) return E.local(accept.labels[claim]);
    }
    return claim;
  }

  function typeName(vct, fallback) {
    var list = state.scenes || [];
    for (var i = 0; i < list.length; i++) {
      var accept = acceptOf(list[i], vct);
      if (accept) return E.local(accept.name);
    }
    return fallback || vct;
  }

  // -- cards ---------------------------------------------------------------------------

  function savedCards() {
    if (!window.caches) return Promise.resolve(null);
    return window.caches
      .open(DATA_CACHE)
      .then(function (cache) {
        return cache.match(CARDS_URL);
      })
      .catch(function () {
        return null;
      });
  }

  function showCards() {
    E.setMessage("cards-error", "");
    renderDevicePanel();
    var loading = $("cards-loading");
    if (!state.cards.length) loading.hidden = false;
    var request;
    if (state.offline) {
      request = savedCards().then(function (response) {
        if (!response) return keptCards();
        return response.json().then(function (data) {
          return { ok: true, status: 200, data: data, headers: response.headers };
        });
      });
    } else {
      request = authed("GET", CARDS_URL);
    }
    Promise.all([request, loadReference()])
      .then(function (all) {
        var r = all[0];
        loading.hidden = true;
        if (!r.ok || !r.data) {
          E.setMessage("cards-error", state.offline ? t.offline : E.problemText(r));
          return;
        }
        state.cards = r.data.items || [];
        var saved = r.headers.get("X-Ecert-Saved-At");
        var offline = state.offline || r.headers.get("X-Ecert-Offline") === "1";
        var banner = $("cards-offline");
        banner.hidden = !offline;
        if (offline) {
          var kept = D && D.state.mode === "device";
          banner.textContent = E.fmt(kept ? t.device_cards_offline : t.cards_offline, {
            time: saved ? dateTimeWithZone(parseInt(saved, 10)) : "—",
          });
        } else if (D) {
          D.remember(state.cards, state.scenes, state.trust);
        }
        renderCards();
        if (!offline) showNotices();
        if (state.resume) resume();
      })
      .catch(function (err) {
        loading.hidden = true;
        if (err instanceof E.NetworkError) E.setMessage("cards-error", t.offline);
      });
  }

  // -- notices: what the service did on the citizen's behalf -----------------------------

  /** Fetch and show the citizen's notices ("Your name changed; 3 certificates were updated"). */
  function showNotices() {
    authed("GET", "/api/v1/wallet/notices")
      .then(function (r) {
        renderNotices(r.ok && r.data ? r.data.items || [] : []);
      })
      .catch(function () {});
  }

  function renderNotices(items) {
    var list = $("notice-list");
    list.textContent = "";
    items.forEach(function (notice) {
      var text = E.local(notice.text);
      var item = E.el("li", "notice");
      item.appendChild(E.el("p", "notice-text", text));
      var dismiss = E.el("button", "button secondary notice-dismiss", t.notice_dismiss);
      dismiss.type = "button";
      dismiss.setAttribute("aria-label", E.fmt(t.notice_dismiss_label, { text: text }));
      dismiss.addEventListener("click", function () {
        dismiss.disabled = true;
        authed("DELETE", "/api/v1/wallet/notices/" + encodeURIComponent(notice.id))
          .then(function (r) {
            if (!r.ok && r.status !== 404) {
              dismiss.disabled = false;
              return;
            }
            item.remove();
            $("notices").hidden = !list.children.length;
            if (!list.children.length) $("cards-title").focus();
          })
          .catch(function () {
            dismiss.disabled = false;
          });
      });
      if (notice.kind === "consent") {
        // A department's request for consent: answer it on the consents screen.
        var review = E.el("button", "button primary notice-review", t.notice_review);
        review.type = "button";
        review.addEventListener("click", function () {
          go("consents");
        });
        item.appendChild(review);
      }
      item.appendChild(dismiss);
      list.appendChild(item);
    });
    $("notices").hidden = !items.length;
  }

  function cardState(card) {
    var now = Date.now() / 1000;
    if (card.status === "revoked" || card.status === "suspended") return card.status;
    if (card.refused === "expired") return "expired"; // the service's clock said so
    if (card.expires_at && card.expires_at < now) return "expired";
    if (card.status === "valid") return "valid";
    return "unknown";
  }

  var BADGE_ICON = { valid: "✓", revoked: "✕", suspended: "‖", expired: "✕", unknown: "?" };

  function badge(status) {
    var node = E.el("span", "badge badge-" + status);
    node.appendChild(E.el("span", "badge-icon", BADGE_ICON[status] || "?")).setAttribute("aria-hidden", "true");
    node.appendChild(E.el("span", null, t["status_" + status] || status));
    return node;
  }

  function renderCards() {
    var list = $("card-list");
    list.textContent = "";
    $("cards-empty").hidden = state.cards.length > 0;
    state.cards.forEach(function (card, index) {
      var status = cardState(card);
      var item = E.el("li");
      var button = E.el("button", "card card-" + status);
      button.type = "button";
      var nameId = "card-" + index + "-name";
      var detailsId = "card-" + index + "-details";
      button.setAttribute("aria-labelledby", nameId);
      button.setAttribute("aria-describedby", detailsId);

      var top = E.el("span", "card-top");
      top.appendChild(E.el("span", "card-name", E.local(card.name))).id = nameId;
      var details = E.el("span", "card-details");
      details.id = detailsId;
      details.appendChild(badge(status));
      details.appendChild(E.el("span", "card-line", t.issued_by + t.colon + E.issuerName(state.trust, card.issuer)));
      validityLines(card, status).forEach(function (line) {
        details.appendChild(line);
      });
      var holder = keyLine(card);
      if (holder) details.appendChild(holder);
      if (card.held_for) {
        // a ward's or a principal's card (issue 12): whose, on the card itself
        details.appendChild(E.el("span", "card-line card-held-for", E.fmt(t.held_for, { name: card.held_for.name })));
        button.setAttribute("data-held-for", card.held_for.kind);
      }
      button.appendChild(top);
      button.appendChild(details);
      button.addEventListener("click", function () {
        state.card = card;
        state.claims = null;
        go("card");
      });
      item.appendChild(button);
      list.appendChild(item);
    });
  }

  /** Today as YYYY-MM-DD on the phone (to compare with a document's own date). */
  function today() {
    return E.formatDate(Date.now() / 1000);
  }

  /**
   * The validity lines of a card: the document's own end of validity (its
   * `valid_until`, as printed on it) or "long-term"; and the credential's technical
   * expiry (`exp`) with its own label when it comes first, when it has passed, or when
   * the document has no end date of its own.
   */
  function validityLines(card, status) {
    var lines = [];
    var copy = E.formatDate(card.expires_at);
    var until = typeof card.valid_until === "string" ? card.valid_until : null;
    if (until) {
      var text = until < today() ? E.fmt(t.card_document_expired, { date: until }) : E.fmt(t.card_valid_until, { date: until });
      lines.push(E.el("span", "card-line card-valid-until", text));
    } else if (card.long_term) {
      lines.push(E.el("span", "card-line card-valid-until", t.card_long_term));
    }
    var copyFirst = !until || copy < until;
    if (status === "expired") {
      lines.push(E.el("span", "card-line card-copy", E.fmt(t.card_copy_expired_on, { date: copy })));
    } else if (copyFirst) {
      lines.push(E.el("span", "card-line card-copy", E.fmt(t.card_copy_until, { date: copy })));
    }
    return lines;
  }

  /** The card's name, state badge, issuer and validity lines into a screen's header. */
  function fillSummary(card, status, titleId, summaryId) {
    $(titleId).textContent = E.local(card.name);
    var summary = $(summaryId);
    summary.textContent = "";
    summary.appendChild(badge(status));
    summary.appendChild(E.el("span", "card-line", t.issued_by + t.colon + E.issuerName(state.trust, card.issuer)));
    validityLines(card, status).forEach(function (line) {
      summary.appendChild(line);
    });
  }

  // -- one card: scene and preview ---------------------------------------------------------

  function showCard() {
    var card = state.card;
    var status = cardState(card);
    fillSummary(card, status, "card-title", "card-summary");
    var unusable = status === "revoked" || status === "suspended" || status === "expired";
    var reason = t.refused && t.refused["credential_" + status];
    $("card-unusable").textContent = reason ? reason.join(E.lang === "zh" ? "" : " ") : t.card_unusable;
    $("card-unusable").hidden = !unusable;
    var onPhone = D && D.canPresent(card.id);
    E.setMessage("card-error", state.offline && !onPhone ? t.qr_offline : "");

    var scenes = scenesForCard(card);
    var note = $("held-for-note");
    note.hidden = !card.held_for;
    note.textContent = card.held_for
      ? E.fmt(t.held_for_note, { link: t["held_for_" + card.held_for.kind] })
      : "";
    // A long list (an ID card is accepted in dozens of scenes) gets a search box.
    $("scene-search-field").hidden = scenes.length <= SCENE_SEARCH_FROM;
    if (scenes.length <= SCENE_SEARCH_FROM) $("scene-search").value = "";
    listScenes();

    if (!state.claims && D && D.hasCopy(card.id) && (state.offline || navigator.onLine === false)) {
      // No network: the fields as this phone's own copy holds them.
      var kept = card.id;
      D.claimsOf(kept).then(function (claims) {
        if (claims && state.card && state.card.id === kept && !state.claims) {
          state.claims = claims;
          renderPreview();
        }
      });
    } else if (!state.claims && !state.offline) {
      var id = card.id;
      authed("GET", CARDS_URL + "/" + encodeURIComponent(id))
        .then(function (r) {
          if (r.ok && state.card && state.card.id === id) {
            state.claims = r.data.claims || {};
            renderPreview();
          }
        })
        .catch(function () {});
    }
  }

  /**
   * The card's scenes into the picker, grouped by category and filtered by the search
   * box; the QR button is usable only with a scene chosen.
   */
  /** The scenes a card may be shown in: a card held for another only where the scene
   *  takes its link (guardianship or care authorisation). */
  function scenesForCard(card) {
    return scenesFor(card.vct).filter(function (scene) {
      if (!card.held_for) return true;
      return card.held_for.kind === "guardianship" ? !!scene.guardian : !!scene.carer;
    });
  }

  function listScenes() {
    var card = state.card;
    if (!card) return;
    var select = $("scene");
    var scenes = scenesForCard(card);
    var previous = select.value;
    if (previous && !(sceneById(previous) && acceptOf(sceneById(previous), card.vct))) select.value = "";
    var shown = E.fillScenes(select, scenes, $("scene-search").value);
    select.disabled = shown === 0;
    $("no-scene").hidden = scenes.length > 0;
    $("no-scene-match").hidden = scenes.length === 0 || shown > 0;
    var status = cardState(card);
    var unusable = status === "revoked" || status === "suspended" || status === "expired";
    var onPhone = D && D.canPresent(card.id);
    $("show-qr").disabled = unusable || shown === 0 || (state.offline && !onPhone);
    renderPreview();
  }

  /** Whether the chosen scene needs an online check (only an online code for it). */
  function sceneNeedsOnline() {
    var scene = sceneById($("scene").value);
    return !!(scene && scene.online);
  }

  function displayValue(value) {
    if (value === true) return "✓";
    if (value === false) return "✕";
    if (value === null || value === undefined) return "—";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function renderPreview() {
    var list = $("preview");
    list.textContent = "";
    var scene = sceneById($("scene").value);
    var validity = $("preview-validity");
    if (!scene) {
      validity.textContent = "";
      $("preview-photo").hidden = true;
      $("preview-online").hidden = true;
      return;
    }
    $("preview-online").hidden = !scene.online;
    var accept = acceptOf(scene, state.card.vct);
    if (isSetFor(scene, state.card.vct)) {
      // A set: every certificate the scene needs, by name, then its fields; only this
      // card's values are at hand here.
      scene.all_of.forEach(function (entry) {
        var mine = entry.vct === state.card.vct;
        var head = E.el("div", "field-row preview-member");
        head.appendChild(E.el("dt", null, E.local(entry.name)));
        head.appendChild(E.el("dd", null, ""));
        list.appendChild(head);
        entry.claims.forEach(function (claim) {
          var row = E.el("div", "field-row");
          row.appendChild(E.el("dt", null, entry.labels && entry.labels[claim] ? E.local(entry.labels[claim]) : claim));
          row.appendChild(E.el("dd", null, mine && state.claims ? displayValue(state.claims[claim]) : "•••"));
          list.appendChild(row);
        });
      });
    } else {
      (accept ? accept.claims : []).forEach(function (claim) {
        var row = E.el("div", "field-row");
        row.appendChild(E.el("dt", null, accept.labels && accept.labels[claim] ? E.local(accept.labels[claim]) : claim));
        var value = state.claims ? displayValue(state.claims[claim]) : "•••";
        row.appendChild(E.el("dd", null, value));
        list.appendChild(row);
      });
    }
    // A scene that asks for the portrait gets it from an online code only: say so.
    var hasPortrait = !state.claims || Object.prototype.hasOwnProperty.call(state.claims, "portrait");
    var photo = $("preview-photo");
    photo.hidden = !(accept && scene.portrait && hasPortrait);
    photo.textContent = photo.hidden ? "" : t.portrait_label + t.colon + t.preview_portrait_online;
    validity.textContent = E.fmt(t.preview_validity, { n: scene.max_age });
  }

  // -- the full card view: every field, masked until tapped --------------------------------

  var PHOTO = /^data:image\/(png|jpeg|webp);base64,[A-Za-z0-9+\/]+=*$/;

  function stars(n) {
    return new Array(Math.max(0, n) + 1).join("*");
  }

  /**
   * A claim's value masked for display: enough to tell which field it is, not enough to
   * read it over a shoulder. ID numbers keep their first and last four characters
   * (1101**********0011), names their first character (张*), dates nothing
   * (****-**-**), other text its first quarter (at most six characters).
   */
  function mask(claim, value) {
    if (value === null || value === undefined) return "—";
    if (typeof value === "boolean" || typeof value === "number") return "**";
    var text = typeof value === "object" ? JSON.stringify(value) : String(value);
    if (PHOTO.test(text)) return t.card_photo_hidden;
    var chars = Array.from(text);
    var n = chars.length;
    if (n <= 1) return "*";
    if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return "****-**-**";
    if (/^[0-9A-Za-z]{10,}$/.test(text)) return chars.slice(0, 4).join("") + stars(n - 8) + chars.slice(n - 4).join("");
    if (/^[0-9A-Za-z]+$/.test(text)) return stars(n - Math.min(2, n - 1)) + chars.slice(n - Math.min(2, n - 1)).join("");
    if (claim === "name" || /_name$/.test(claim) || n <= 4) return chars[0] + stars(n - 1);
    var keep = Math.min(6, Math.floor(n / 4));
    return chars.slice(0, keep).join("") + stars(Math.min(n - keep, 8));
  }

  function showDetails() {
    var card = state.card;
    var status = cardState(card);
    fillSummary(card, status, "details-title", "details-summary");
    E.setMessage("details-error", state.offline ? t.offline : "");
    $("card-remove").disabled = state.offline;
    $("details-fields").textContent = "";
    if (state.details && state.details.id === card.id) {
      renderDetails();
      return;
    }
    if (state.offline) return;
    var id = card.id;
    $("details-loading").hidden = false;
    authed("GET", CARDS_URL + "/" + encodeURIComponent(id))
      .then(function (r) {
        $("details-loading").hidden = true;
        if (!state.card || state.card.id !== id) return;
        if (!r.ok || !r.data) {
          E.setMessage("details-error", E.problemText(r));
          return;
        }
        state.details = { id: id, claims: r.data.claims || {}, fields: r.data.fields || [] };
        state.claims = state.details.claims;
        renderDetails();
      })
      .catch(function (err) {
        $("details-loading").hidden = true;
        if (err instanceof E.NetworkError) E.setMessage("details-error", t.offline);
      });
  }

  /** The card's fields in the catalogue's order (then any the catalogue does not name). */
  function renderDetails() {
    var list = $("details-fields");
    list.textContent = "";
    var claims = state.details.claims;
    var order = [];
    var labels = {};
    state.details.fields.forEach(function (field) {
      labels[field.name] = E.local(field.label);
      if (Object.prototype.hasOwnProperty.call(claims, field.name)) order.push(field.name);
    });
    Object.keys(claims).forEach(function (name) {
      if (order.indexOf(name) < 0) order.push(name);
    });
    order.forEach(function (name, index) {
      var label = labels[name] || name;
      var shown = !!state.revealed[name];
      var value = claims[name];
      var row = E.el("div", "field-row detail-row");
      row.appendChild(E.el("dt", null, label));
      var dd = E.el("dd", shown ? "revealed" : "masked");
      dd.id = "detail-" + index;
      if (shown && typeof value === "string" && PHOTO.test(value)) {
        var img = E.el("img", "card-photo");
        img.alt = label;
        img.src = value;
        dd.appendChild(img);
      } else {
        dd.appendChild(E.el("span", "detail-value", shown ? displayValue(value) : mask(name, value)));
      }
      var toggle = E.el("button", "button link reveal", shown ? t.card_hide : t.card_show);
      toggle.type = "button";
      toggle.setAttribute("aria-label", E.fmt(shown ? t.card_hide_field : t.card_show_field, { label: label }));
      toggle.setAttribute("aria-controls", dd.id);
      toggle.addEventListener("click", function () {
        state.revealed[name] = !state.revealed[name];
        renderDetails();
        var again = document.querySelector('[aria-controls="' + dd.id + '"]');
        if (again) again.focus();
      });
      dd.appendChild(toggle);
      row.appendChild(dd);
      list.appendChild(row);
    });
  }

  // -- removing a card from the wallet ----------------------------------------------------

  function askRemove() {
    var card = state.card;
    if (!card) return;
    $("remove-title").textContent = E.fmt(t.card_remove_title, { name: E.local(card.name) });
    $("remove-dialog").showModal();
    $("remove-cancel").focus();
  }

  function removeCard() {
    var card = state.card;
    var dialog = $("remove-dialog");
    if (!card) {
      dialog.close();
      return;
    }
    var confirm = $("remove-confirm");
    confirm.disabled = true;
    authed("DELETE", CARDS_URL + "/" + encodeURIComponent(card.id))
      .then(function (r) {
        // 404: it was removed already (from another device): the outcome is the same.
        if (!r.ok && r.status !== 404) throw new Error(E.fmt(t.card_remove_failed, { reason: E.problemText(r) }));
        dialog.close();
        state.cards = state.cards.filter(function (c) {
          return c.id !== card.id;
        });
        state.card = null;
        state.claims = null;
        state.details = null;
        var notice = E.fmt(t.card_removed, { name: E.local(card.name) });
        go("cards", { replace: true });
        E.setMessage("cards-notice", notice);
        E.announce(notice);
      })
      .catch(function (err) {
        dialog.close();
        if (err && err.message === "session ended") return;
        E.setMessage("details-error", err instanceof E.NetworkError ? t.offline : err.message || t.error_generic);
      })
      .then(function () {
        confirm.disabled = false;
      });
  }

  // -- the header menu: log out ---------------------------------------------------------

  function closeMenu() {
    var button = $("menu-button");
    if (!button) return;
    button.setAttribute("aria-expanded", "false");
    $("wallet-menu").hidden = true;
  }

  function toggleMenu() {
    var open = $("menu-button").getAttribute("aria-expanded") !== "true";
    $("menu-button").setAttribute("aria-expanded", open ? "true" : "false");
    $("wallet-menu").hidden = !open;
    if (open) $("logout").focus();
  }

  function askLogout() {
    closeMenu();
    // A phone with its own key keeps it and its cards after logging out: say so.
    var kept = D && D.state.mode === "device";
    $("logout-text").textContent = kept ? t.menu_logout_text_device : t.menu_logout_text;
    $("logout-dialog").showModal();
    $("logout-cancel").focus();
  }

  // -- switching language keeps the screen ------------------------------------------------

  function saveResume() {
    var screen = document.body.getAttribute("data-screen") || "cards";
    var place = {
      screen: screen,
      card: state.card ? state.card.id : null,
      scene: $("scene").value || null,
      online: $("online-qr").checked,
      at: Date.now() / 1000,
    };
    try {
      window.sessionStorage.setItem(RESUME_KEY, JSON.stringify(place));
    } catch (e) {
      /* storage refused: the other language opens on the card list */
    }
  }

  function takeResume() {
    var place = null;
    try {
      place = JSON.parse(window.sessionStorage.getItem(RESUME_KEY) || "null");
      window.sessionStorage.removeItem(RESUME_KEY);
    } catch (e) {
      return null;
    }
    if (!place || typeof place.screen !== "string" || !(Date.now() / 1000 - place.at < RESUME_FOR)) return null;
    return place;
  }

  /** After the card list has loaded: go back to where the citizen was (once). */
  function resume() {
    var place = state.resume;
    state.resume = null;
    if (!place || place.screen === "cards" || place.screen === "login") return;
    if (place.screen === "activity") {
      go("activity");
      return;
    }
    var card = null;
    state.cards.forEach(function (c) {
      if (c.id === place.card) card = c;
    });
    if (!card) return;
    state.card = card;
    state.claims = null;
    $("online-qr").checked = !!place.online;
    go("card");
    if (place.scene && sceneById(place.scene) && acceptOf(sceneById(place.scene), card.vct)) {
      $("scene").value = place.scene;
      renderPreview();
    }
    if (place.screen === "details") go("details");
    else if (place.screen === "qr" && !$("show-qr").disabled) go("qr");
  }

  // -- the QR code -----------------------------------------------------------------------

  function showQrScreen() {
    showRefused(null);
    var scene = sceneById($("scene").value);
    $("qr-title").textContent = scene ? E.local(scene.name) : "";
    $("qr-type").textContent = state.card ? E.local(state.card.name) : "";
    if (state.card && isSetFor(scene, state.card.vct)) {
      // one QR code for the whole set: name every certificate in it
      $("qr-type").textContent = scene.all_of
        .map(function (entry) {
          return E.local(entry.name);
        })
        .join(" + ");
    }
    updateOnlineAvailability();
    updateOnlineHint();
    if (!state.qr) makeQr();
  }

  function updateOnlineHint() {
    $("online-hint").textContent = $("online-qr").checked ? t.online_hint_on : t.online_hint_off;
  }

  function stopQr() {
    state.generation += 1;
    if (state.timer) window.clearInterval(state.timer);
    state.timer = null;
    if (state.qr && state.qr.url) URL.revokeObjectURL(state.qr.url);
    state.qr = null;
    var img = $("qr-img");
    if (img) {
      img.hidden = true;
      img.removeAttribute("src");
    }
    var placeholder = $("qr-placeholder");
    if (placeholder) placeholder.hidden = false;
  }

  /**
   * Make a presentation for the chosen scene and show its QR image.
   *
   * Phone first: when this browser is a registered device holding a copy of the card,
   * the phone makes every code with its own key, network or not: an offline code is
   * drawn here (makePhoneQr); an online one is made here and handed to the service to
   * hold behind a short URL (makePhoneOnlineQr). Only a card with no copy here (the
   * assisted mode) asks the service to make the presentation.
   */
  function makeQr(refresh) {
    var card = state.card;
    var sceneId = $("scene").value;
    if (!card || !sceneId) return;
    var generation = ++state.generation;
    if (state.timer) window.clearInterval(state.timer);
    state.timer = null;
    E.setMessage("qr-error", "");
    $("qr-countdown").textContent = t.qr_refreshing;
    // A scene that needs an online check gets only an online code (docs/scenes.md); a
    // card held for another is shown only online, with its link.
    var mustBeOnline = sceneNeedsOnline();
    var mode = $("online-qr").checked || mustBeOnline || card.held_for ? "online" : "offline";
    var offline = state.offline || navigator.onLine === false;
    if (mustBeOnline && offline) {
      $("qr-countdown").textContent = "";
      E.setMessage("qr-error", t.qr_online_needs_network);
      return;
    }
    if (D && D.state.mode === "pending" && !offline) {
      // The device is being set up (first log-in here): its key makes the code, not the
      // service's, so wait for it.
      D.settled().then(function () {
        if (generation === state.generation) makeQr(refresh);
      });
      return;
    }
    var known = D ? D.copyStatus(card.id) : null;
    if (offline && (known === "revoked" || known === "suspended")) {
      // This phone's copy was last heard of as such: say so, not "no network".
      showRefused(known);
      return;
    }
    // A card held for another is only with the service (never on a phone): it makes the
    // set [card, link] and holds it behind an online code. A set (a scene's all_of) is
    // made by the service for now: the phone makes single presentations only.
    var set = isSetFor(sceneById(sceneId), card.vct);
    if (!card.held_for && D && D.canPresent(card.id) && !set) {
      if (mode === "online" && !offline) makePhoneOnlineQr(card, sceneId, generation, refresh);
      else makePhoneQr(card, sceneId, generation, refresh, !offline);
      return;
    }
    var answer = authed("POST", CARDS_URL + "/" + encodeURIComponent(card.id) + "/presentations", {
      body: { scene: sceneId, mode: mode },
    });
    showServiceQr(answer, mode, generation, refresh, "service", function () {
      if (mode === "offline" && D && D.canPresent(card.id) && !set) {
        // The service cannot be reached: the phone makes the code itself.
        makePhoneQr(card, sceneId, generation, refresh, false);
        return true;
      }
      return false;
    });
  }

  /**
   * Show the QR image of a presentation the service holds: `answer` is the promise of
   * the answer that made it ({id, qr, mode, expires_at}); its PNG is fetched with the
   * session. `made`: who made the presentation ("service", or "phone" for an online
   * code the phone made), on the image as data-made. `onNetworkError` may take over
   * when the service cannot be reached (returns true).
   */
  function showServiceQr(answer, mode, generation, refresh, made, onNetworkError) {
    var presentation;
    answer
      .then(function (r) {
        if (!r || generation !== state.generation) return null;
        if (refusal(r)) throw new Refused(refusal(r));
        if (!r.ok || !r.data) throw new Error(E.fmt(t.qr_failed, { reason: E.problemText(r) }));
        presentation = r.data;
        presentation.offset = E.clockOffset(r.headers);
        if (!presentation.id) throw new Error(t.qr_image_failed);
        return authed("GET", "/api/v1/wallet/presentations/" + encodeURIComponent(presentation.id) + "/qr.png", {
          raw: true,
        });
      })
      .then(function (r) {
        if (!r || generation !== state.generation) return;
        if (refusal(r)) throw new Refused(refusal(r));
        if (!r.ok || !(r.data instanceof Blob)) throw new Error(t.qr_image_failed);
        displayQr(URL.createObjectURL(r.data), {
          id: presentation.id,
          expiresAt: presentation.expires_at,
          offset: presentation.offset,
          // the service's answer: a set asked for offline may be shown online
          mode: presentation.mode || mode,
          made: made,
        }, refresh);
      })
      .catch(function (err) {
        if (generation !== state.generation) return;
        if (err && err.message === "session ended") return;
        if (err instanceof Refused) {
          showRefused(err.reason);
          return;
        }
        if (err instanceof E.NetworkError && onNetworkError && onNetworkError()) return;
        $("qr-countdown").textContent = "";
        E.setMessage("qr-error", err instanceof E.NetworkError ? t.offline : err.message || t.error_generic);
      });
  }

  /**
   * The online QR of a card this phone holds a copy of: the phone makes the presentation
   * (with the portrait for a scene that asks for it) and signs it with its device key;
   * the service only holds it behind a short URL (POST /api/v1/wallet/presentations),
   * after checking it verifies for the scene and is a copy of one of this citizen's
   * devices. Its image is the service's, like any online code.
   */
  function makePhoneOnlineQr(card, sceneId, generation, refresh) {
    var answer = D.presentOnline(card.id, sceneById(sceneId)).then(
      function (made) {
        if (generation !== state.generation) return null;
        return authed("POST", HELD_URL, {
          body: { presentation: made.text, scene: sceneId, mode: "online" },
        });
      },
      function (err) {
        if (err && err.code === "credential_expired") throw new Refused("expired");
        throw new Error(E.fmt(t.device_qr_failed, { code: (err && err.code) || "error" }));
      }
    );
    showServiceQr(answer, "online", generation, refresh, "phone", null);
  }

  // -- no QR code for a credential that cannot pass -------------------------------------

  // The service answers 409 with one of these codes for a revoked, suspended or
  // expired credential (live status, its clock): then there is no QR code to show.
  var REFUSALS = {
    credential_revoked: "revoked",
    credential_suspended: "suspended",
    credential_expired: "expired",
  };

  function Refused(reason) {
    this.name = "Refused";
    this.message = reason;
    this.reason = reason;
  }
  Refused.prototype = Object.create(Error.prototype);

  // The service refuses to hold a phone-made presentation of a card that cannot pass
  // with 400 presentation_refused and the verifier's code as `reason`.
  var HELD_REFUSALS = { revoked: "revoked", suspended: "suspended", expired: "expired" };

  /** "revoked", "suspended" or "expired" if the answer is such a refusal, else null. */
  function refusal(r) {
    var data = r && r.data;
    if (r && r.status === 400 && data && data.code === "presentation_refused") {
      var why = data.reason;
      return (why && Object.prototype.hasOwnProperty.call(HELD_REFUSALS, why) && HELD_REFUSALS[why]) || null;
    }
    var code = r && r.status === 409 && data && data.code;
    return (code && Object.prototype.hasOwnProperty.call(REFUSALS, code) && REFUSALS[code]) || null;
  }

  /**
   * Replace the QR code with why there is none (reason "revoked", "suspended" or
   * "expired"), or put the QR code's place back (null). The old image is dropped, the
   * refreshing stops, and the card remembers its state for the card screens.
   */
  function showRefused(reason) {
    var box = $("qr-refused");
    box.textContent = "";
    box.className = "";
    $("qr-live").hidden = !!reason;
    if (!reason) return;
    stopQr();
    E.setMessage("qr-error", "");
    $("qr-countdown").textContent = "";
    var card = state.card;
    if (card && reason === "expired") card.refused = "expired";
    else if (card) card.status = reason;
    var text = (t.refused && t.refused["credential_" + reason]) || [t.card_unusable, ""];
    box.className = "qr-refused qr-refused-" + reason;
    var icon = E.el("span", "qr-refused-icon", reason === "suspended" ? "‖" : "✕");
    icon.setAttribute("aria-hidden", "true");
    box.appendChild(icon);
    box.appendChild(E.el("p", "qr-refused-reason", text[0]));
    if (text[1]) box.appendChild(E.el("p", "qr-refused-action", text[1]));
  }

  /** Seconds until the next refresh, and the countdown on screen. */
  function tick() {
    var qr = state.qr;
    if (!qr) return;
    var now = Date.now() / 1000 + qr.offset;
    var margin = Math.min(REFRESH_MARGIN, qr.lifetime / 5);
    var refreshAt = qr.expiresAt - margin;
    var left = Math.max(0, Math.ceil(refreshAt - now));
    $("qr-countdown").textContent = E.fmt(t.qr_countdown, { n: left });
    var span = Math.max(1, qr.lifetime - margin);
    $("qr-bar").style.width = Math.max(0, Math.min(100, (100 * (refreshAt - now)) / span)) + "%";
    if (left <= 0 && !document.hidden) makeQr(true);
  }

  document.addEventListener("visibilitychange", function () {
    // A hidden page shows nobody a code: stop refreshing, and catch up on return.
    if (!document.hidden && state.qr && document.body.getAttribute("data-screen") === "qr") tick();
  });

  // -- activity --------------------------------------------------------------------------

  /** The phone's offset from UTC at that moment: "UTC+8", "UTC-3:30", "UTC". */
  /** "2026-12-03 19:20:05 (UTC+8)": a time is never read in the wrong zone. */
  function dateTimeWithZone(epoch) {
    return E.formatDateTimeZone(epoch);
  }

  function showActivity() {
    var list = $("activity-list");
    E.setMessage("activity-error", "");
    if (state.offline) {
      list.textContent = "";
      E.setMessage("activity-error", t.offline);
      return;
    }
    $("activity-loading").hidden = false;
    Promise.all([authed("GET", "/api/v1/wallet/activity"), loadReference(), loadReceipts(), loadProofTypes()])
      .then(function (all) {
        var r = all[0];
        $("activity-loading").hidden = true;
        if (!r.ok || !r.data) {
          E.setMessage("activity-error", E.problemText(r));
          return;
        }
        renderActivity(withProofQueries(r.data.items || [], all[2]), all[2]);
      })
      .catch(function (err) {
        $("activity-loading").hidden = true;
        if (err instanceof E.NetworkError) E.setMessage("activity-error", t.offline);
      });
  }

  // -- consents: departments' requests to look proofs up, and what was granted -----------

  var CONSENTS_URL = "/api/v1/wallet/consents";
  var proofTypes = null; // proof type id -> {zh, en}, from the catalogue when it is there
  var proofClaims = {}; // proof type id -> claim name -> {zh, en}, from the same catalogue

  /** The proof types' names (GET /api/v1/proofs/types); the ids alone if it cannot be read. */
  function loadProofTypes() {
    if (proofTypes) return Promise.resolve(proofTypes);
    return E.api("GET", "/api/v1/proofs/types")
      .then(function (r) {
        var names = {};
        var list = r.ok && r.data ? (Array.isArray(r.data) ? r.data : r.data.items || r.data.types || []) : [];
        list.forEach(function (type) {
          if (type && type.id && type.name) names[type.id] = type.name;
          if (type && type.id && Array.isArray(type.claims)) {
            proofClaims[type.id] = {};
            type.claims.forEach(function (claim) {
              if (claim && claim.name && claim.label) proofClaims[type.id][claim.name] = claim.label;
            });
          }
        });
        proofTypes = names;
        return names;
      })
      .catch(function () {
        return {};
      });
  }

  function proofName(id) {
    return proofTypes && proofTypes[id] ? E.local(proofTypes[id]) : id;
  }

  function showConsents() {
    E.setMessage("consents-error", "");
    if (state.offline) {
      E.setMessage("consents-error", t.offline);
      return;
    }
    loadConsents();
    loadCarers();
  }

  // -- carers (代办人): who may present this citizen's cards in named scenes -------------

  var CARERS_URL = "/api/v1/wallet/carers";

  function loadCarers() {
    E.setMessage("carer-error", "");
    return Promise.all([authed("GET", CARERS_URL), loadReference()])
      .then(function (all) {
        var r = all[0];
        if (!r.ok || !r.data) {
          E.setMessage("carer-error", E.problemText(r));
          return;
        }
        renderCarers(r.data.items || []);
      })
      .catch(function (err) {
        if (err instanceof E.NetworkError) E.setMessage("carer-error", t.offline);
      });
  }

  function carerScenes() {
    return (state.scenes || []).filter(function (scene) {
      return !!scene.carer;
    });
  }

  function renderCarers(items) {
    var list = $("carer-list");
    list.textContent = "";
    items.forEach(function (c) {
      var item = E.el("li", "consent consent-" + (c.active ? "granted" : "closed"));
      item.setAttribute("data-carer", c.id);
      var top = E.el("div", "consent-top");
      top.appendChild(E.el("p", "consent-who", c.carer));
      var shown = c.active ? "active" : c.state;
      top.appendChild(E.el("span", "consent-state consent-state-" + (c.active ? "granted" : "closed"), t["carer_state_" + shown] || shown));
      item.appendChild(top);
      var names = c.scenes.map(function (id) {
        var scene = sceneById(id);
        return scene ? E.local(scene.name) : id;
      });
      item.appendChild(E.el("p", "consent-what", names.join(E.lang === "zh" ? "、" : ", ")));
      item.appendChild(E.el("p", "muted small", E.fmt(t.carer_line, { until: c.until })));
      if (c.active) {
        var withdraw = E.el("button", "button danger", t.carer_withdraw);
        withdraw.type = "button";
        withdraw.setAttribute("aria-label", E.fmt(t.carer_withdraw_label, { carer: c.carer }));
        withdraw.addEventListener("click", function () {
          withdraw.disabled = true;
          authed("DELETE", CARERS_URL + "/" + encodeURIComponent(c.id))
            .then(function (r) {
              if (!r.ok) throw new Error(E.problemText(r));
              E.setMessage("carers-notice", t.carer_withdrawn);
              return loadCarers();
            })
            .catch(function (err) {
              withdraw.disabled = false;
              E.setMessage("carer-error", err instanceof E.NetworkError ? t.offline : err.message);
            });
        });
        var actions = E.el("div", "consent-actions");
        actions.appendChild(withdraw);
        item.appendChild(actions);
      }
      list.appendChild(item);
    });
    $("carers-empty").hidden = items.length > 0;
    var box = $("carer-scenes");
    var checked = {};
    var boxes = box.querySelectorAll("input[type=checkbox]");
    for (var i = 0; i < boxes.length; i++) checked[boxes[i].value] = boxes[i].checked;
    box.textContent = "";
    var scenes = carerScenes();
    scenes.forEach(function (scene) {
      var label = E.el("label", "check");
      var input = E.el("input");
      input.type = "checkbox";
      input.name = "scenes";
      input.value = scene.id;
      input.checked = !!checked[scene.id];
      label.appendChild(input);
      label.appendChild(E.el("span", null, E.local(scene.name)));
      box.appendChild(label);
    });
    $("carer-no-scenes").hidden = scenes.length > 0;
    $("carer-add").disabled = scenes.length === 0;
    var until = $("carer-until");
    if (!until.value) {
      var day = new Date(Date.now() + 30 * 86400000);
      until.value = day.toISOString().slice(0, 10);
    }
  }

  function onCarerSubmit(event) {
    event.preventDefault();
    E.setMessage("carer-error", "");
    E.setMessage("carers-notice", "");
    var scenes = [];
    var boxes = $("carer-scenes").querySelectorAll("input[type=checkbox]");
    for (var i = 0; i < boxes.length; i++) if (boxes[i].checked) scenes.push(boxes[i].value);
    if (!scenes.length) {
      E.setMessage("carer-error", t.carer_no_scene);
      return;
    }
    var body = { carer_id: $("carer-id").value.trim().toUpperCase(), scenes: scenes, until: $("carer-until").value };
    $("carer-add").disabled = true;
    authed("POST", CARERS_URL, { body: body })
      .then(function (r) {
        $("carer-add").disabled = false;
        if (!r.ok) {
          E.setMessage("carer-error", E.problemText(r));
          return null;
        }
        $("carer-id").value = "";
        E.setMessage("carers-notice", t.carer_added);
        return loadCarers();
      })
      .catch(function (err) {
        $("carer-add").disabled = false;
        E.setMessage("carer-error", err instanceof E.NetworkError ? t.offline : t.error_generic);
      });
  }

  function loadConsents(focus) {
    E.setMessage("consents-error", "");
    $("consents-loading").hidden = false;
    return Promise.all([authed("GET", CONSENTS_URL), loadProofTypes()])
      .then(function (all) {
        var r = all[0];
        $("consents-loading").hidden = true;
        if (!r.ok || !r.data) {
          E.setMessage("consents-error", E.problemText(r));
          return;
        }
        renderConsents(r.data.items || []);
        if (focus) $("consents-title").focus();
      })
      .catch(function (err) {
        $("consents-loading").hidden = true;
        if (err instanceof E.NetworkError) E.setMessage("consents-error", t.offline);
      });
  }

  function consentState(c) {
    if ((c.state === "granted" || c.state === "pending") && c.expired) return "expired";
    return c.state;
  }

  function renderConsents(items) {
    var groups = { pending: $("consents-pending"), granted: $("consents-granted"), closed: $("consents-closed") };
    Object.keys(groups).forEach(function (k) {
      groups[k].textContent = "";
    });
    items.forEach(function (c) {
      var shown = consentState(c);
      var group = shown === "pending" || shown === "granted" ? shown : "closed";
      groups[group].appendChild(consentItem(c, shown));
    });
    $("consents-pending-empty").hidden = groups.pending.children.length > 0;
    $("consents-granted-empty").hidden = groups.granted.children.length > 0;
    $("consents-closed-group").hidden = !groups.closed.children.length;
  }

  function consentItem(c, shown) {
    var who = E.local(c.department_name) || c.department;
    var what = proofName(c.proof_type);
    var item = E.el("li", "consent consent-" + shown);
    item.setAttribute("data-consent", c.id);
    var top = E.el("div", "consent-top");
    top.appendChild(E.el("p", "consent-who", who));
    top.appendChild(E.el("span", "consent-state consent-state-" + shown, t["consent_state_" + shown] || shown));
    item.appendChild(top);
    var facts = E.el("dl", "consent-facts");
    [
      [t.consent_what, E.el("dd", null, what)],
      [t.consent_why, E.el("dd", null, c.purpose)],
      [t.consent_until, untilText(c)],
    ].forEach(function (pair) {
      facts.appendChild(E.el("dt", null, pair[0]));
      facts.appendChild(pair[1]);
    });
    item.appendChild(facts);
    var actions = E.el("div", "consent-actions");
    var label = { who: who, what: what };
    if (shown === "pending") {
      actions.appendChild(consentButton(c, "approve", "primary", label));
      actions.appendChild(consentButton(c, "decline", "secondary", label));
    } else if (shown === "granted") {
      actions.appendChild(consentButton(c, "withdraw", "danger", label));
    }
    if (actions.children.length) item.appendChild(actions);
    return item;
  }

  /** "2026-12-04 · ends 2026-12-05 08:00:00 (UTC+8)", a date never broken at its hyphens. */
  function untilText(c) {
    var dd = E.el("dd");
    var values = { date: c.until, local: dateTimeWithZone(c.expires_at) };
    String(t.consent_until_value)
      .split(/(\{\w+\})/)
      .forEach(function (part) {
        var name = part.replace(/^\{(\w+)\}$/, "$1");
        if (part !== name && Object.prototype.hasOwnProperty.call(values, name)) {
          dd.appendChild(E.el("span", "nowrap", values[name]));
        } else if (part) {
          dd.appendChild(document.createTextNode(part));
        }
      });
    return dd;
  }

  /** Approve / Decline a request, or Withdraw a consent: one tap, effective at once. */
  function consentButton(c, action, style, label) {
    var button = E.el("button", "button " + style + " consent-" + action, t["consent_" + action]);
    button.type = "button";
    button.setAttribute("aria-label", E.fmt(t["consent_" + action + "_label"], label));
    button.addEventListener("click", function () {
      var buttons = button.parentNode.querySelectorAll("button");
      for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
      var path = CONSENTS_URL + "/" + encodeURIComponent(c.id);
      var call = action === "withdraw" ? authed("DELETE", path) : authed("POST", path + "/" + action);
      call
        .then(function (r) {
          var done = { approve: "consent_approved", decline: "consent_declined", withdraw: "consent_withdrawn" }[action];
          if (r.ok) {
            E.announce(E.fmt(t[done], label));
            return loadConsents(true);
          }
          if (r.status === 409 || r.status === 404) {
            E.announce(t.consent_changed);
            return loadConsents(true).then(function () {
              E.setMessage("consents-error", t.consent_changed);
            });
          }
          E.setMessage("consents-error", E.problemText(r));
          for (var j = 0; j < buttons.length; j++) buttons[j].disabled = false;
        })
        .catch(function (err) {
          if (err instanceof E.NetworkError) E.setMessage("consents-error", t.offline);
          for (var j = 0; j < buttons.length; j++) buttons[j].disabled = false;
        });
    });
    return button;
  }

  function renderActivity(items, receipts) {
    var list = $("activity-list");
    list.textContent = "";
    $("activity-empty").hidden = items.length > 0;
    items.forEach(function (event) {
      if (event.kind === "change") {
        list.appendChild(changeItem(event));
        return;
      }
      if (event.kind === "proof_query") {
        list.appendChild(proofQueryItem(event.use));
        return;
      }
      var item = E.el("li", "activity-item " + (event.valid ? "ok" : "fail"));
      var top = E.el("div", "activity-top");
      top.appendChild(E.el("p", "activity-venue", event.venue && event.venue.name ? E.local(event.venue.name) : t.activity_unknown_venue));
      top.appendChild(badge(event.valid ? "valid" : "revoked")).lastChild.textContent = event.valid ? t.activity_valid : t.activity_invalid;
      item.appendChild(top);
      var scene = sceneById(event.scene);
      var what = (scene ? E.local(scene.name) : event.scene) + (event.vct ? " · " + typeName(event.vct, event.vct) : "");
      item.appendChild(E.el("p", "activity-what", what));
      if (event.claims && event.claims.length) {
        var labels = event.claims.map(function (c) {
          return event.vct ? claimLabel(event.vct, c) : c;
        });
        item.appendChild(E.el("p", "activity-fields", t.activity_fields + t.colon + labels.join(E.lang === "zh" ? "、" : ", ")));
      }
      (event.codes || []).forEach(function (code) {
        var reason = t.codes && t.codes[code] ? t.codes[code][0] : code;
        item.appendChild(E.el("p", "activity-reason", reason));
      });
      var time = E.el("time", "activity-time", dateTimeWithZone(event.at));
      time.setAttribute("datetime", E.isoDateTime(event.at));
      item.appendChild(time);
      var use = receipts && event.id ? receipts[event.id] : null;
      if (use) item.appendChild(receiptActions(use));
      list.appendChild(item);
    });
  }

  /** A card re-issued because a subject field changed: which field, on which card, by whom
   * (the field's label only, never a value). */
  function changeItem(event) {
    var item = E.el("li", "activity-item change");
    var top = E.el("div", "activity-top");
    top.appendChild(E.el("p", "activity-venue", event.venue && event.venue.name ? E.local(event.venue.name) : event.venue.id));
    top.appendChild(badge("valid")).lastChild.textContent = t.activity_reissued;
    item.appendChild(top);
    var claim = event.claims && event.claims.length ? event.claims[0] : event.field;
    var label = event.field_label ? E.local(event.field_label) : event.vct ? claimLabel(event.vct, claim) : claim;
    var card = state.cards.filter(function (c) {
      return c.id === event.credential;
    })[0];
    var type = card && card.name ? E.local(card.name) : event.vct ? typeName(event.vct, event.vct) : "";
    var what = E.fmt(t.activity_changed, { field: label }) + (type ? " · " + type : "");
    item.appendChild(E.el("p", "activity-what", what));
    var time = E.el("time", "activity-time", dateTimeWithZone(event.at));
    time.setAttribute("datetime", E.isoDateTime(event.at));
    item.appendChild(time);
    return item;
  }

  // -- receipts, ratings and misuse reports (each entry of the activity section) --------

  var RECEIPTS_URL = "/api/v1/wallet/receipts";
  /** Messages of the receipt routes' own codes, in the page's language. */
  var RECEIPT_CODES = {
    rating_locked: "receipt_rating_locked",
    rating_invalid: "receipt_rating_invalid",
    report_exists: "receipt_report_exists",
    report_invalid: "receipt_report_invalid",
    receipt_not_found: "receipt_not_found",
  };

  /** The citizen's uses by event id ({} when they cannot be read: the log still shows). */
  function loadReceipts() {
    return authed("GET", RECEIPTS_URL)
      .then(function (r) {
        var byId = {};
        if (r.ok && r.data) {
          (r.data.items || []).forEach(function (use) {
            byId[use.event_id] = use;
          });
        }
        return byId;
      })
      .catch(function (err) {
        if (err instanceof E.NetworkError) return {};
        throw err;
      });
  }

  /** The activity log with the departments' proof queries (uses that are not checks of a
   * card) merged in, newest first. */
  function withProofQueries(items, receipts) {
    var merged = items.slice();
    Object.keys(receipts || {}).forEach(function (id) {
      var use = receipts[id];
      if (use.kind === "proof_query") merged.push({ kind: "proof_query", id: id, at: use.at, use: use });
    });
    return merged.sort(function (a, b) {
      return b.at - a.at;
    });
  }

  function receiptProblem(r) {
    var code = r && r.data && r.data.code;
    if (code && RECEIPT_CODES[code]) return t[RECEIPT_CODES[code]];
    return E.problemText(r);
  }

  /** A department's proof query about the citizen: who asked, which proof, why, when. */
  function proofQueryItem(use) {
    var accepted = use.result && use.result.outcome === "accepted";
    var item = E.el("li", "activity-item " + (accepted ? "ok" : "fail"));
    var top = E.el("div", "activity-top");
    top.appendChild(E.el("p", "activity-venue", use.actor.name && E.local(use.actor.name) ? E.local(use.actor.name) : use.actor.id));
    top.appendChild(badge(accepted ? "valid" : "revoked")).lastChild.textContent = accepted ? t.receipt_answered : t.receipt_refused;
    item.appendChild(top);
    var what = use.topic_name ? E.local(use.topic_name) : use.topic;
    item.appendChild(E.el("p", "activity-what", E.fmt(t.receipt_proof_query, { proof: what })));
    if (use.purpose) item.appendChild(E.el("p", "activity-purpose", t.receipt_purpose + t.colon + use.purpose));
    if (use.fields && use.fields.length) {
      var labels = proofClaims[use.topic] || {};
      var shown = use.fields
        .filter(function (name) {
          return name !== "found"; // whether a record exists: the result says it
        })
        .map(function (name) {
          return labels[name] ? E.local(labels[name]) : name;
        });
      if (shown.length) {
        item.appendChild(E.el("p", "activity-fields", t.activity_fields + t.colon + shown.join(E.lang === "zh" ? "、" : ", ")));
      }
    }
    var time = E.el("time", "activity-time", dateTimeWithZone(use.at));
    time.setAttribute("datetime", E.isoDateTime(use.at));
    item.appendChild(time);
    item.appendChild(receiptActions(use));
    return item;
  }

  /** "Receipt" (download), the stars (editable within the day) and "Report misuse". */
  function receiptActions(use) {
    var box = E.el("div", "receipt");
    box.setAttribute("data-event", use.event_id);
    var row = E.el("div", "receipt-row");
    var download = E.el("button", "button secondary small receipt-download", t.receipt_download);
    download.type = "button";
    download.addEventListener("click", function () {
      downloadReceipt(use.event_id, message);
    });
    row.appendChild(download);
    var report = E.el("button", "button secondary small receipt-report-open", t.receipt_report);
    report.type = "button";
    report.setAttribute("aria-expanded", "false");
    if (use.report) {
      report.disabled = true;
      report.textContent = use.report.state === "resolved" ? t.receipt_report_resolved : t.receipt_reported;
    }
    row.appendChild(report);
    box.appendChild(row);
    box.appendChild(ratingControl(use));
    var form = reportForm(use, report);
    box.appendChild(form);
    report.addEventListener("click", function () {
      form.hidden = !form.hidden;
      report.setAttribute("aria-expanded", form.hidden ? "false" : "true");
      if (!form.hidden) form.querySelector("textarea").focus();
    });
    var message = E.el("p", "receipt-message small");
    message.setAttribute("role", "status");
    box.appendChild(message);
    return box;
  }

  /** Fetch the signed receipt (the file the service serves) and save it. */
  function downloadReceipt(id, message) {
    var url = RECEIPTS_URL + "/" + encodeURIComponent(id) + "?download=1";
    authed("GET", url, { raw: true })
      .then(function (r) {
        if (!r.ok || !r.data) {
          message.textContent = receiptProblem(r);
          return;
        }
        var href = URL.createObjectURL(r.data);
        var link = E.el("a");
        link.href = href;
        link.download = "receipt-" + id + ".jwt";
        link.hidden = true;
        document.body.appendChild(link);
        link.click();
        link.remove();
        window.setTimeout(function () {
          URL.revokeObjectURL(href);
        }, 60000);
        message.textContent = t.receipt_downloaded;
      })
      .catch(function (err) {
        if (err instanceof E.NetworkError) message.textContent = t.offline;
      });
  }

  function starsText(n) {
    return "★★★★★".slice(0, n) + "☆☆☆☆☆".slice(0, 5 - n);
  }

  /** Five star buttons; a comment box and "Save" once one is chosen. A rating older than
   * a day shows as text. */
  function ratingControl(use) {
    var rating = use.rating;
    var box = E.el("div", "rating");
    var now = Date.now() / 1000;
    if (rating && now >= rating.editable_until) {
      var done = E.el("p", "rating-done", t.receipt_your_rating + t.colon);
      var shown = E.el("span", "rating-stars", starsText(rating.stars));
      shown.setAttribute("aria-label", E.fmt(t.receipt_stars_label, { n: rating.stars }));
      done.appendChild(shown);
      box.appendChild(done);
      if (rating.comment) box.appendChild(E.el("p", "rating-comment", rating.comment));
      return box;
    }
    var group = E.el("div", "rating-stars-row");
    group.setAttribute("role", "group");
    var label = E.el("span", "rating-label", rating ? t.receipt_your_rating : t.receipt_rate);
    label.id = "rate-" + use.event_id;
    group.setAttribute("aria-labelledby", label.id);
    box.appendChild(label);
    var chosen = rating ? rating.stars : 0;
    var buttons = [];
    for (var n = 1; n <= 5; n++) {
      var star = E.el("button", "star", "★");
      star.type = "button";
      star.value = String(n);
      star.setAttribute("aria-label", E.fmt(t.receipt_stars_label, { n: n }));
      buttons.push(star);
      group.appendChild(star);
    }
    box.appendChild(group);
    var form = E.el("form", "rating-form");
    form.hidden = true;
    var fieldId = "rating-comment-" + use.event_id;
    var commentLabel = E.el("label", null, t.receipt_comment);
    commentLabel.setAttribute("for", fieldId);
    var comment = E.el("textarea", "rating-comment-input");
    comment.id = fieldId;
    comment.maxLength = 500;
    comment.rows = 2;
    comment.value = rating && rating.comment ? rating.comment : "";
    var save = E.el("button", "button primary small", t.receipt_rating_save);
    save.type = "submit";
    form.appendChild(commentLabel);
    form.appendChild(comment);
    form.appendChild(save);
    box.appendChild(form);
    var note = E.el("p", "rating-note small muted");
    note.setAttribute("role", "status");
    if (rating) note.textContent = E.fmt(t.receipt_editable_until, { time: dateTimeWithZone(rating.editable_until) });
    box.appendChild(note);

    function paint() {
      buttons.forEach(function (b, i) {
        b.setAttribute("aria-pressed", i < chosen ? "true" : "false");
        b.classList.toggle("on", i < chosen);
        b.textContent = i < chosen ? "★" : "☆";
      });
    }
    paint();
    buttons.forEach(function (b) {
      b.addEventListener("click", function () {
        chosen = parseInt(b.value, 10);
        paint();
        form.hidden = false;
      });
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!chosen) return;
      save.disabled = true;
      var url = RECEIPTS_URL + "/" + encodeURIComponent(use.event_id) + "/rating";
      authed("PUT", url, { body: { stars: chosen, comment: comment.value } })
        .then(function (r) {
          save.disabled = false;
          if (!r.ok || !r.data) {
            note.textContent = receiptProblem(r);
            return;
          }
          use.rating = r.data;
          form.hidden = true;
          note.textContent =
            t.receipt_rating_saved + " " + E.fmt(t.receipt_editable_until, { time: dateTimeWithZone(r.data.editable_until) });
          label.textContent = t.receipt_your_rating;
          E.announce(t.receipt_rating_saved);
        })
        .catch(function (err) {
          save.disabled = false;
          if (err instanceof E.NetworkError) note.textContent = t.offline;
        });
    });
    return box;
  }

  /** "Report misuse": a short text for the operator, once per use. */
  function reportForm(use, opener) {
    var form = E.el("form", "report-form");
    form.hidden = true;
    var fieldId = "report-text-" + use.event_id;
    var label = E.el("label", null, t.receipt_report_label);
    label.setAttribute("for", fieldId);
    var text = E.el("textarea", "report-text");
    text.id = fieldId;
    text.maxLength = 1000;
    text.rows = 3;
    text.required = true;
    var send = E.el("button", "button danger small", t.receipt_report_send);
    send.type = "submit";
    var note = E.el("p", "report-note small");
    note.setAttribute("role", "status");
    form.appendChild(label);
    form.appendChild(text);
    form.appendChild(send);
    form.appendChild(note);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!text.value.trim()) {
        note.textContent = t.receipt_report_invalid;
        return;
      }
      send.disabled = true;
      var url = RECEIPTS_URL + "/" + encodeURIComponent(use.event_id) + "/reports";
      authed("POST", url, { body: { text: text.value } })
        .then(function (r) {
          send.disabled = false;
          if (r.status !== 201 && !(r.data && r.data.code === "report_exists")) {
            note.textContent = receiptProblem(r);
            return;
          }
          form.hidden = true;
          opener.disabled = true;
          opener.setAttribute("aria-expanded", "false");
          opener.textContent = r.status === 201 ? t.receipt_reported : t.receipt_report_exists;
          E.announce(opener.textContent);
        })
        .catch(function (err) {
          send.disabled = false;
          if (err instanceof E.NetworkError) note.textContent = t.offline;
        });
    });
    return form;
  }

  // -- this browser as the citizen's device (device.js) ----------------------------------------
  //
  // Small hooks only: the key, IndexedDB and the offline QR code live in device.js.

  /** Just logged in: register this browser as a device (if it can) and fetch its copies. */
  function deviceLogin(citizenId, token) {
    if (!D) return;
    D.onLogin(citizenId, token);
  }

  /** Resolves to true when this browser keeps a citizen's cards and key (offline start). */
  function deviceOffline() {
    if (!D) return Promise.resolve(false);
    return D.openOffline().then(function (kept) {
      return !!kept;
    });
  }

  /** The card list kept on this device, shaped like an API answer (for showCards). */
  function keptCards() {
    var data = D && D.state.data;
    if (!data || !Array.isArray(data.cards)) {
      return { ok: false, status: 0, data: null, headers: new Headers() };
    }
    var headers = new Headers();
    if (data.savedAt) headers.set("X-Ecert-Saved-At", String(data.savedAt));
    headers.set("X-Ecert-Offline", "1");
    return { ok: true, status: 200, data: { items: data.cards }, headers: headers };
  }

  /** Where the card's holder key is: on this phone, or held by the service (assisted). */
  function keyLine(card) {
    if (!D || D.state.mode === "pending") return null;
    if (D.hasCopy(card.id)) return E.el("span", "card-line card-key card-key-device", t.device_key_here);
    if (D.state.mode === "assisted" || !state.offline) {
      return E.el("span", "card-line card-key card-key-service", t.device_held_by_service);
    }
    return null;
  }

  /**
   * The card's live status from the service's card list when there is a network (a code
   * the phone makes must not outlive a revocation it could have heard of): "revoked",
   * "suspended" or null (valid, unknown, or the service cannot be asked: then the copy's
   * own status and expiry decide, and venues check the live status anyway).
   */
  function liveRefusal(card) {
    if (!state.token) return Promise.resolve(null);
    return authed("GET", CARDS_URL).then(
      function (r) {
        var items = r && r.ok && r.data && Array.isArray(r.data.items) ? r.data.items : [];
        var item = items.filter(function (i) {
          return i && i.id === card.id;
        })[0];
        return item && (item.status === "revoked" || item.status === "suspended") ? item.status : null;
      },
      function (err) {
        if (err && err.message === "session ended") throw err;
        return null;
      }
    );
  }

  /**
   * The QR code of the card made on this phone (the device key signs; no request to the
   * service makes it). `online`: there is a network, so the card's live status is asked
   * first (liveRefusal); with none, the freshest bundle this phone has seen is read.
   */
  function makePhoneQr(card, sceneId, generation, refresh, online) {
    var scene = sceneById(sceneId);
    (online ? liveRefusal(card) : D.bundleRefusal(card.id))
      .then(function (reason) {
        if (generation !== state.generation) return null;
        if (reason) throw new Refused(reason);
        return D.present(card.id, scene);
      })
      .then(function (made) {
        if (!made || generation !== state.generation) return;
        displayQr(D.qrImageUrl(made.text), {
          id: null,
          expiresAt: made.expiresAt,
          offset: made.offset,
          mode: "phone",
          made: "phone",
        }, refresh);
      })
      .catch(function (err) {
        if (generation !== state.generation) return;
        if (err && err.message === "session ended") return;
        if (err instanceof Refused) {
          showRefused(err.reason);
          return;
        }
        if (err && err.code === "credential_expired") {
          showRefused("expired");
          return;
        }
        $("qr-countdown").textContent = "";
        E.setMessage("qr-error", E.fmt(t.device_qr_failed, { code: (err && err.code) || "error" }));
      });
  }

  /**
   * Show a QR image (`url`, a blob: URL this screen now owns) and count down to its
   * refresh. `qr`: {id, expiresAt, offset, mode, made} ("service" or "phone").
   */
  function displayQr(url, qr, refresh) {
    var old = state.qr;
    var now = Date.now() / 1000 + qr.offset;
    state.qr = {
      id: qr.id,
      expiresAt: qr.expiresAt,
      offset: qr.offset,
      lifetime: Math.max(1, qr.expiresAt - now),
      url: url,
      mode: qr.mode,
    };
    var img = $("qr-img");
    img.src = url;
    img.hidden = false;
    img.setAttribute("data-made", qr.made);
    $("qr-placeholder").hidden = true;
    if (old && old.url) URL.revokeObjectURL(old.url);
    if (refresh) E.announce(t.qr_refreshed);
    tick();
    state.timer = window.setInterval(tick, 1000);
  }

  /** The online QR (a /p/ link) needs a network: offer it only then. */
  function updateOnlineAvailability() {
    var box = $("online-qr");
    var offline = state.offline || navigator.onLine === false;
    var mustBeOnline = sceneNeedsOnline();
    if (offline && box.checked) box.checked = false;
    if (mustBeOnline && !offline) box.checked = true; // the only code this scene accepts
    box.disabled = offline || mustBeOnline;
    box.parentNode.hidden = offline;
    var here = offline && state.card && D && D.canPresent(state.card.id);
    $("device-qr-note").hidden = !here;
  }

  function renderDevicePanel() {
    var panel = $("device-panel");
    if (!D || !panel) return;
    var mode = D.state.mode;
    document.body.setAttribute("data-device", mode);
    panel.hidden = !state.token && !state.offline;
    var text = t["device_status_" + mode] || "";
    var problem = D.state.problem;
    if (mode === "assisted" && D.supported()) {
      // This browser can keep a key but holds none of this citizen's now.
      var none = !problem || problem === "device_removed" || problem === "device_none";
      text = none ? t.device_status_none : E.fmt(t.device_problem, { code: problem });
    }
    $("device-status").textContent = text;
    $("device-logout-note").hidden = mode !== "device";
    $("device-remove").hidden = mode !== "device" || !state.token;
  }

  function onRemoveDevice() {
    if (!state.token || !window.confirm(t.device_remove_confirm)) return;
    var button = $("device-remove");
    button.disabled = true;
    E.setMessage("device-error", "");
    D.removeThisDevice(state.token)
      .then(function (done) {
        if (done.ok) {
          E.announce(t.device_removed);
          if (document.body.getAttribute("data-screen") === "cards") renderCards();
        } else {
          E.setMessage("device-error", E.problemText(done.r));
        }
      })
      .catch(function () {
        E.setMessage("device-error", t.offline);
      })
      .then(function () {
        button.disabled = false;
        renderDevicePanel();
      });
  }

  function startDevice() {
    if (!D) return;
    D.onChange(function () {
      renderDevicePanel();
      var screen = document.body.getAttribute("data-screen");
      if (screen === "cards" && state.cards.length) renderCards();
      if (screen === "card" && state.card) showCard();
    });
    $("device-remove").addEventListener("click", onRemoveDevice);
    var connectivity = function () {
      // Back online with a session: new credentials (or a removal) reach this phone.
      if (navigator.onLine !== false && state.token) D.resume(state.token);
      if (document.body.getAttribute("data-screen") === "qr") {
        updateOnlineAvailability();
        updateOnlineHint();
      }
    };
    window.addEventListener("online", connectivity);
    window.addEventListener("offline", connectivity);
    renderDevicePanel();
  }

  // -- start -----------------------------------------------------------------------------

  function registerServiceWorker() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.register("/wallet-sw.js", { scope: "/wallet" }).catch(function () {
      /* not installable here (e.g. plain http on another host): the page still works */
    });
  }

  function start() {
    $("login-form").addEventListener("submit", onLogin);
    $("carer-form").addEventListener("submit", onCarerSubmit);
    $("offline-cards").addEventListener("click", function () {
      state.offline = true;
      go("cards");
    });
    $("scene").addEventListener("change", function () {
      renderPreview();
    });
    $("scene-search").addEventListener("input", listScenes);
    $("show-qr").addEventListener("click", function () {
      stopQr();
      go("qr");
    });
    $("online-qr").addEventListener("change", function () {
      updateOnlineHint();
      if (state.qr || document.body.getAttribute("data-screen") === "qr") makeQr(true);
    });
    $("qr-done").addEventListener("click", function () {
      window.history.back();
    });
    var backs = document.querySelectorAll("[data-back]");
    for (var i = 0; i < backs.length; i++) {
      backs[i].addEventListener("click", function () {
        window.history.back();
      });
    }
    var navs = document.querySelectorAll("[data-nav]");
    for (var j = 0; j < navs.length; j++) {
      navs[j].addEventListener("click", function (event) {
        var target = event.currentTarget.getAttribute("data-nav");
        go(target);
      });
    }
    $("menu-button").addEventListener("click", toggleMenu);
    $("logout").addEventListener("click", askLogout);
    $("logout-cancel").addEventListener("click", function () {
      $("logout-dialog").close();
    });
    $("logout-confirm").addEventListener("click", function () {
      $("logout-dialog").close();
      logout();
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && $("menu-button").getAttribute("aria-expanded") === "true") {
        closeMenu();
        $("menu-button").focus();
      }
    });
    document.addEventListener("click", function (event) {
      var menu = $("wallet-menu");
      if (!menu.hidden && !menu.contains(event.target) && !$("menu-button").contains(event.target)) closeMenu();
    });
    $("card-details-open").addEventListener("click", function () {
      go("details");
    });
    $("card-remove").addEventListener("click", askRemove);
    $("remove-cancel").addEventListener("click", function () {
      $("remove-dialog").close();
    });
    $("remove-confirm").addEventListener("click", removeCard);
    $("lang-toggle").addEventListener("click", function () {
      if (state.token) saveResume();
    });

    startDevice();

    state.token = loadToken();
    state.resume = state.token ? takeResume() : null;
    if (state.token) {
      go("cards", { replace: true });
      if (D) D.resume(state.token);
    } else {
      go("login", { replace: true });
      // At the desk with no network and no session: the cards kept on this phone.
      if (navigator.onLine === false) {
        deviceOffline().then(function (kept) {
          if (kept && !state.token) {
            state.offline = true;
            go("cards", { replace: true });
          }
        });
      }
    }
    registerServiceWorker();
  }

  // For the browser tests of the masking (tests/test_browser_wallet.py).
  window.EcertWallet = { mask: mask, zoneName: E.zoneName };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

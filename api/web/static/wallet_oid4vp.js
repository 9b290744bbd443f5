/* ecert web wallet (/wallet): answer a venue's OpenID4VP request (docs/openid4vc.md).
 *
 * The venue's QR code for the ecert web wallet opens /wallet?client_id=…&request_uri=…
 * (a phone's camera). The request's id is kept in sessionStorage across the login; on
 * the cards screen a panel shows who asks (the venue's name), for which scene and which
 * fields (GET /api/v1/openid4vp/requests/{id}/about), and the citizen's cards that fit.
 * On consent the service presents the chosen card with the key it holds
 * (POST /api/v1/wallet/openid4vp/requests/{id}/answer); "decline" asks the service to
 * send the wallet's error response (OpenID4VP §8.5, access_denied:
 * POST /api/v1/wallet/openid4vp/requests/{id}/decline).
 */
(function () {
  "use strict";

  var E = window.Ecert;
  var $ = E.$;
  var PENDING = "ecert.wallet.oid4vp";
  var TOKEN_KEY = "ecert.wallet.token";
  var PATH = /^\/api\/v1\/openid4vp\/requests\/([A-Za-z0-9_-]{1,64})$/;
  var TEXTS = {
    zh: {
      title: "{venue} 请您出示证照",
      scene: "场景：{scene}",
      fields: "将出示的信息",
      choose: "选择证照",
      none: "您的钱包里没有此场景接受的证照。",
      consent: "同意并出示",
      decline: "拒绝",
      done: "已向 {venue} 出示。",
      declined: "已拒绝此请求。",
      refused: "出示未被接受：",
      gone: "此请求已失效或已被回应。",
      portrait: "照片（如证照上有）",
      offline: "无法连接服务，请求仍在。请检查网络后重试。",
      retry: "重试",
    },
    en: {
      title: "{venue} asks for a certificate",
      scene: "Scene: {scene}",
      fields: "What will be shown",
      choose: "Choose a certificate",
      none: "Your wallet holds no certificate this scene accepts.",
      consent: "Consent and show",
      decline: "Decline",
      done: "Shown to {venue}.",
      declined: "You declined the request.",
      refused: "The presentation was not accepted: ",
      gone: "This request has expired or was already answered.",
      portrait: "Portrait (if the certificate has one)",
      offline: "The service cannot be reached; the request is kept. Check the network and try again.",
      retry: "Try again",
    },
  };
  var T = TEXTS[E.lang] || TEXTS.zh;
  var shown = false;

  function storage(name, value) {
    try {
      if (value === undefined) return window.sessionStorage.getItem(name);
      if (value === null) window.sessionStorage.removeItem(name);
      else window.sessionStorage.setItem(name, value);
    } catch (e) {
      /* storage refused */
    }
    return null;
  }

  /** The request id of a request_uri of this service, or null. */
  function requestId(uri) {
    try {
      var url = new URL(uri, window.location.href);
      if (url.origin !== window.location.origin) return null;
      var match = PATH.exec(url.pathname);
      return match ? match[1] : null;
    } catch (e) {
      return null;
    }
  }

  function takeFromUrl() {
    var params = new URLSearchParams(window.location.search);
    var uri = params.get("request_uri");
    if (!uri) return;
    var id = requestId(uri);
    if (id) storage(PENDING, id);
    params.delete("request_uri");
    params.delete("client_id");
    var rest = params.toString();
    window.history.replaceState(window.history.state, "", window.location.pathname + (rest ? "?" + rest : ""));
  }

  function sceneOf(scenes, id) {
    for (var i = 0; i < (scenes || []).length; i++) if (scenes[i].id === id) return scenes[i];
    return null;
  }

  function labelOf(scene, vct, name) {
    var accept = (scene && scene.accept) || [];
    for (var i = 0; i < accept.length; i++) {
      if (accept[i].vct === vct && accept[i].labels && accept[i].labels[name]) return E.local(accept[i].labels[name]);
    }
    return name;
  }

  function finish(panel, text, kind) {
    storage(PENDING, null);
    panel.textContent = "";
    var message = E.el("p", "message " + kind, text);
    message.setAttribute("role", "status");
    panel.appendChild(message);
  }

  function render(panel, id, token, about, scenes, cards) {
    panel.textContent = "";
    var venue = E.local(about.venue);
    var scene = sceneOf(scenes, about.scene);
    var title = E.el("h2", null, E.fmt(T.title, { venue: venue }));
    title.id = "oid4vp-title";
    panel.appendChild(title);
    panel.appendChild(E.el("p", "lead", E.fmt(T.scene, { scene: scene ? E.local(scene.name) : about.scene })));
    var queries = about.dcql_query.credentials || [];
    var vcts = {};
    queries.forEach(function (q) {
      ((q.meta && q.meta.vct_values) || []).forEach(function (v) {
        vcts[v] = q;
      });
    });
    var fitting = cards.filter(function (c) {
      // a card held for a ward or a principal is shown only with its link: not here
      return vcts[c.vct] && !c.held_for && c.status !== "revoked" && c.status !== "suspended";
    });
    if (!fitting.length) {
      panel.appendChild(E.el("p", "message warning", T.none));
    }
    var list = E.el("fieldset", "oid4vp-cards");
    list.appendChild(E.el("legend", null, T.choose));
    var fields = E.el("ul", "oid4vp-fields");
    function showFields(vct) {
      fields.textContent = "";
      var q = vcts[vct];
      ((q && q.claims) || []).forEach(function (claim) {
        var name = String(claim.path[0]);
        fields.appendChild(E.el("li", null, name === "portrait" ? T.portrait : labelOf(scene, vct, name)));
      });
    }
    fitting.forEach(function (card, i) {
      var row = E.el("label", "oid4vp-card");
      var input = E.el("input");
      input.type = "radio";
      input.name = "oid4vp-card";
      input.value = card.id;
      input.checked = i === 0;
      input.addEventListener("change", function () {
        showFields(card.vct);
      });
      row.appendChild(input);
      row.appendChild(E.el("span", null, card.name ? E.local(card.name) : card.vct));
      list.appendChild(row);
    });
    if (fitting.length) {
      panel.appendChild(list);
      panel.appendChild(E.el("h3", null, T.fields));
      panel.appendChild(fields);
      showFields(fitting[0].vct);
    }
    var error = E.el("p", "message error");
    error.hidden = true;
    error.setAttribute("role", "alert");
    panel.appendChild(error);
    var consent = E.el("button", "button primary block", T.consent);
    consent.type = "button";
    consent.id = "oid4vp-consent";
    consent.disabled = !fitting.length;
    var decline = E.el("button", "button secondary block", T.decline);
    decline.type = "button";
    decline.id = "oid4vp-decline";
    consent.addEventListener("click", function () {
      var chosen = panel.querySelector("input[name=oid4vp-card]:checked");
      if (!chosen) return;
      consent.disabled = decline.disabled = true;
      var path = "/api/v1/wallet/openid4vp/requests/" + encodeURIComponent(id) + "/answer";
      error.hidden = true;
      E.api("POST", path, { token: token, body: { credential_id: chosen.value } }).then(
        function (r) {
          if (r.ok) finish(panel, E.fmt(T.done, { venue: venue }), "success");
          else {
            error.textContent = T.refused + E.problemText(r);
            error.hidden = false;
            storage(PENDING, null);
          }
        },
        function () {
          // no answer from the service: nothing was shown; the citizen may try again
          unreachable();
        }
      );
    });
    function unreachable() {
      error.textContent = T.offline;
      error.hidden = false;
      consent.disabled = !fitting.length;
      decline.disabled = false;
    }
    decline.addEventListener("click", function () {
      consent.disabled = decline.disabled = true;
      error.hidden = true;
      // the service takes it as the wallet's error response (§8.5), in either mode
      var path = "/api/v1/wallet/openid4vp/requests/" + encodeURIComponent(id) + "/decline";
      E.api("POST", path, { token: token })
        .then(
          function (r) {
            if (r.ok) finish(panel, T.declined, "success");
            else if (r.status === 400 || r.status === 404) finish(panel, T.gone, "warning");
            else {
              error.textContent = T.refused + E.problemText(r);
              error.hidden = false;
              consent.disabled = !fitting.length;
              decline.disabled = false;
            }
          },
          function () {
            // the venue was not told: keep the request, so that the citizen can decline again
            unreachable();
          }
        );
    });
    panel.appendChild(consent);
    panel.appendChild(decline);
    title.setAttribute("tabindex", "-1");
    title.focus({ preventScroll: false });
  }

  function maybeShow() {
    var id = storage(PENDING);
    var token = storage(TOKEN_KEY);
    if (shown || !id || !token || document.body.getAttribute("data-screen") !== "cards") return;
    shown = true;
    var screen = $("screen-cards");
    var panel = E.el("section", "panel oid4vp-panel");
    panel.id = "oid4vp-panel";
    panel.setAttribute("aria-labelledby", "oid4vp-title");
    screen.insertBefore(panel, screen.children[1] || null);
    Promise.all([
      E.api("GET", "/api/v1/openid4vp/requests/" + encodeURIComponent(id) + "/about"),
      E.api("GET", "/api/v1/scenes"),
      E.api("GET", "/api/v1/wallet/credentials", { token: token }),
    ]).then(
      function (all) {
        if (!all[0].ok) return finish(panel, T.gone, "warning");
        var cards = (all[2].ok && all[2].data && all[2].data.items) || [];
        render(panel, id, token, all[0].data, all[1].ok ? all[1].data : [], cards);
      },
      function () {
        // no answer: say so, keep the request, and ask again on "try again"
        panel.textContent = "";
        var message = E.el("p", "message error", T.offline);
        message.setAttribute("role", "alert");
        var retry = E.el("button", "button secondary block", T.retry);
        retry.type = "button";
        retry.addEventListener("click", function () {
          panel.remove();
          shown = false;
          maybeShow();
        });
        panel.appendChild(message);
        panel.appendChild(retry);
      }
    );
  }

  function start() {
    takeFromUrl();
    new MutationObserver(maybeShow).observe(document.body, { attributes: true, attributeFilter: ["data-screen"] });
    maybeShow();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

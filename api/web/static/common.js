/* ecert web pages: helpers shared by the wallet (/wallet) and the scanner (/scan).
 *
 * Loaded in <head> without `defer`, so that elder mode applies before the first paint;
 * everything touching the body waits for DOMContentLoaded. No dependencies, no build.
 */
(function () {
  "use strict";

  var ELDER_KEY = "ecert.elder";

  function readStrings() {
    var node = document.getElementById("strings");
    return node ? JSON.parse(node.textContent) : {};
  }

  var strings = readStrings();
  var lang = strings.lang || "zh";

  // Elder mode: large text, high contrast. Remembered on this device.
  function elderOn() {
    try {
      return window.localStorage.getItem(ELDER_KEY) === "1";
    } catch (e) {
      return false;
    }
  }
  if (elderOn()) {
    document.documentElement.classList.add("elder");
  }

  function $(id) {
    return document.getElementById(id);
  }

  /** "Refreshes in {n} s" with {n: 3} → "Refreshes in 3 s". */
  function fmt(text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (all, name) {
      return values && Object.prototype.hasOwnProperty.call(values, name) ? values[name] : all;
    });
  }

  /** The text of a {zh, en} object in the page's language. */
  function local(obj) {
    if (!obj) return "";
    if (typeof obj === "string") return obj;
    return obj[lang] || obj.zh || obj.en || "";
  }

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  /** A date as YYYY-MM-DD in the phone's time zone (unambiguous in both languages). */
  function formatDate(epoch) {
    var d = new Date(epoch * 1000);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  }

  function formatTime(epoch) {
    var d = new Date(epoch * 1000);
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function formatDateTime(epoch) {
    return formatDate(epoch) + " " + formatTime(epoch);
  }

  /** The phone's offset from UTC at that instant: "UTC+8", "UTC-3:30", "UTC". */
  function zoneName(epoch) {
    var minutes = -new Date(epoch * 1000).getTimezoneOffset();
    if (minutes === 0) return "UTC";
    var sign = minutes > 0 ? "+" : "-";
    var abs = Math.abs(minutes);
    var rest = abs % 60;
    return "UTC" + sign + Math.floor(abs / 60) + (rest ? ":" + (rest < 10 ? "0" : "") + rest : "");
  }

  /** "2026-12-03 19:20:05 (UTC+8)": a time is never read in the wrong zone. */
  function formatDateTimeZone(epoch) {
    return formatDateTime(epoch) + " (" + zoneName(epoch) + ")";
  }

  function isoDateTime(epoch) {
    return new Date(epoch * 1000).toISOString();
  }

  /** An element with a class and text (text, never HTML: values are untrusted). */
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function setMessage(id, text) {
    var node = $(id);
    if (!node) return;
    node.textContent = text || "";
    node.hidden = !text;
  }

  function NetworkError(cause) {
    this.name = "NetworkError";
    this.message = "network error";
    this.cause = cause;
  }
  NetworkError.prototype = Object.create(Error.prototype);

  /**
   * How long a request may take, answer included, before it fails as a NetworkError
   * (ms): a request that hangs (a dead mobile network, a proxy holding the connection)
   * must not hold a page forever -- a scanner stays "verifying" and refuses the next
   * code. An upload (a photo of a QR code) gets longer, and so does a large download
   * asked for with `timeout: E.timeouts.download` (the verifier bundle, up to 4 MiB on a
   * slow network). Pages and tests may change them.
   */
  var timeouts = { request: 20000, upload: 60000, download: 120000 };

  /**
   * Call the API. Resolves to {status, ok, data, headers, response}; data is the
   * parsed JSON (also for problem+json errors) or null. Rejects with NetworkError when
   * the server cannot be reached or does not answer in time (timeouts above).
   *   options: token (bearer), body (JSON), form (FormData), raw (keep the body: blob),
   *   timeout (ms, instead of the default above)
   */
  function api(method, path, options) {
    options = options || {};
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = controller
      ? window.setTimeout(
          function () {
            controller.abort();
          },
          options.timeout || (options.form ? timeouts.upload : timeouts.request)
        )
      : null;
    function done(result) {
      if (timer !== null) window.clearTimeout(timer);
      return result;
    }
    return send(method, path, options, controller ? controller.signal : undefined).then(done, function (err) {
      done(null);
      throw err instanceof NetworkError ? err : new NetworkError(err);
    });
  }

  function send(method, path, options, signal) {
    var headers = {};
    var body;
    if (options.token) headers["Authorization"] = "Bearer " + options.token;
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.body);
    } else if (options.form) {
      body = options.form;
    }
    return window
      .fetch(path, {
        method: method,
        headers: headers,
        body: body,
        credentials: "omit",
        cache: "no-store",
        signal: signal,
      })
      .catch(function (err) {
        throw new NetworkError(err);
      })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        var result = {
          status: response.status,
          ok: response.ok,
          data: null,
          headers: response.headers,
          response: response,
        };
        if (options.raw && response.ok) {
          return response.blob().then(function (blob) {
            result.data = blob;
            return result;
          });
        }
        if (type.indexOf("json") >= 0) {
          return response.json().then(
            function (data) {
              result.data = data;
              return result;
            },
            function () {
              return result;
            }
          );
        }
        return result;
      });
  }

  /** The server's clock minus ours, in seconds, from a response's Date header. */
  function clockOffset(headers) {
    var date = headers && headers.get("Date");
    if (!date) return 0;
    var server = Date.parse(date);
    if (isNaN(server)) return 0;
    var offset = (server - Date.now()) / 1000;
    // The Date header has a resolution of one second: ignore small differences.
    return Math.abs(offset) < 2 ? 0 : offset;
  }

  /** The payload of a JWT, without checking anything (for display only). */
  function jwtPayload(jwt) {
    var part = String(jwt).split(".")[1] || "";
    var b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var binary = window.atob(b64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return JSON.parse(new TextDecoder("utf-8").decode(bytes));
  }

  /**
   * The public trust list (issuer names, its date). Resolves to
   * {iat, issuers: {iss: {zh, en}}} or null when it cannot be had.
   */
  function fetchTrustList() {
    return api("GET", "/trust-list")
      .then(function (r) {
        if (!r.ok) return null;
        return r.response
          .clone()
          .text()
          .catch(function () {
            return "";
          });
      })
      .then(function (text) {
        if (!text) return null;
        var payload = jwtPayload(text);
        var issuers = {};
        (payload.issuers || []).forEach(function (entry) {
          issuers[entry.iss] = entry.name;
        });
        return { iat: payload.iat, issuers: issuers };
      })
      .catch(function () {
        return null;
      });
  }

  /** The name of an issuer URL, from the trust list; its path if unknown. */
  function issuerName(trust, iss) {
    if (trust && trust.issuers && trust.issuers[iss]) return local(trust.issuers[iss]);
    try {
      var url = new URL(iss);
      return url.host + url.pathname;
    } catch (e) {
      return iss || "";
    }
  }

  /** Show one `.screen` section, hide the others, and move the focus to its heading. */
  function showScreen(id, focus) {
    var screens = document.querySelectorAll(".screen");
    for (var i = 0; i < screens.length; i++) {
      screens[i].hidden = screens[i].id !== "screen-" + id;
    }
    document.body.setAttribute("data-screen", id);
    window.scrollTo(0, 0);
    if (focus !== false) {
      var heading = document.querySelector("#screen-" + id + " h1");
      if (heading) heading.focus({ preventScroll: true });
    }
  }

  function announce(text) {
    var node = $("announcer");
    if (!node) return;
    node.textContent = "";
    window.setTimeout(function () {
      node.textContent = text;
    }, 50);
  }

  function problemText(r) {
    if (r && r.data && r.data.detail) return r.data.detail;
    return strings.error_generic;
  }

  function retryAfter(r) {
    var value = r && r.headers && r.headers.get("Retry-After");
    var n = parseInt(value || "", 10);
    return isNaN(n) ? 60 : n;
  }

  function setupElderToggle() {
    var button = $("elder-toggle");
    if (!button) return;
    var root = document.documentElement;
    button.setAttribute("aria-pressed", root.classList.contains("elder") ? "true" : "false");
    button.addEventListener("click", function () {
      var on = !root.classList.contains("elder");
      root.classList.toggle("elder", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
      try {
        window.localStorage.setItem(ELDER_KEY, on ? "1" : "0");
      } catch (e) {
        /* private mode: the choice lasts until the page is left */
      }
    });
  }

  document.addEventListener("DOMContentLoaded", setupElderToggle);

  /** Whether a scene's names, or its category's, contain `query` (lower case). */
  function sceneMatches(scene, query) {
    if (!query) return true;
    var category = scene.category;
    var names = [scene.name.zh, scene.name.en];
    if (category) names.push(category.name.zh, category.name.en);
    return names.join("\n").toLowerCase().indexOf(query) >= 0;
  }

  /**
   * Fill a scene picker (<select>) grouped by category: one <optgroup> per category,
   * named in the page language, in the order the categories first come in `scenes`
   * (the trust list's order: scenes.json keeps each category together); scenes that
   * name no category come last, ungrouped. With `query`, only the scenes whose name in
   * either language, or whose category's name, contains it (case-insensitive: "bank",
   * "银行", "医疗" all work). The chosen scene stays chosen while it is listed; else
   * the first is. Returns how many scenes are listed.
   */
  function fillScenes(select, scenes, query) {
    var previous = select.value;
    var q = String(query || "").trim().toLowerCase();
    var groups = [];
    var loose = [];
    var byCategory = {};
    scenes.forEach(function (scene) {
      if (!sceneMatches(scene, q)) return;
      var category = scene.category;
      if (!category) {
        loose.push(scene);
        return;
      }
      if (!byCategory[category.id]) {
        byCategory[category.id] = { category: category, scenes: [] };
        groups.push(byCategory[category.id]);
      }
      byCategory[category.id].scenes.push(scene);
    });
    select.textContent = "";
    var count = 0;
    function add(parent, scene) {
      var option = el("option", null, local(scene.name));
      option.value = scene.id;
      parent.appendChild(option);
      count += 1;
    }
    groups.forEach(function (group) {
      var optgroup = document.createElement("optgroup");
      optgroup.label = local(group.category.name);
      optgroup.setAttribute("data-category", group.category.id);
      group.scenes.forEach(function (scene) {
        add(optgroup, scene);
      });
      select.appendChild(optgroup);
    });
    loose.forEach(function (scene) {
      add(select, scene);
    });
    if (previous) select.value = previous;
    if (select.selectedIndex < 0 && count) select.selectedIndex = 0;
    return count;
  }

  window.Ecert = {
    strings: strings,
    lang: lang,
    $: $,
    fmt: fmt,
    local: local,
    el: el,
    formatDate: formatDate,
    formatTime: formatTime,
    formatDateTime: formatDateTime,
    formatDateTimeZone: formatDateTimeZone,
    zoneName: zoneName,
    isoDateTime: isoDateTime,
    setMessage: setMessage,
    api: api,
    timeouts: timeouts,
    NetworkError: NetworkError,
    clockOffset: clockOffset,
    jwtPayload: jwtPayload,
    fetchTrustList: fetchTrustList,
    issuerName: issuerName,
    showScreen: showScreen,
    announce: announce,
    problemText: problemText,
    retryAfter: retryAfter,
    fillScenes: fillScenes,
  };
})();

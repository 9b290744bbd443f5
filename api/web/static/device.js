/* ecert: this browser as the citizen's device (issue 9, "keys on the device").
 *
 * On log-in in a browser that can (a secure context with WebCrypto and IndexedDB, and
 * present.js with its vendored libraries), the wallet page makes a P-256 key pair whose
 * private half cannot be exported, registers its public key with the service (an
 * OpenID4VCI key proof over a fresh c_nonce: POST /api/v1/wallet/devices), then keeps,
 * in IndexedDB, the device's own copy of each credential (all disclosures), the card
 * list, the scenes, the trust list's issuer names, the freshest verifier bundle it has
 * seen (so that with no network it does not show a code for a copy the bundle says is
 * revoked or suspended) and the service's clock offset. With
 * them the phone builds a presentation, signs its key-binding JWT with the device key
 * and draws the QR code with no network (present.js); for a scene that asks for several
 * credentials at once (`all_of`), one copy of each type, as one set in one QR code. Phone first: with a network too,
 * every QR code of a card this browser holds a copy of is made here; an online code
 * (a /p/ link) is made here and only handed to the service to hold
 * (POST /api/v1/wallet/presentations).
 *
 * What is kept is per citizen, under a handle (SHA-256 of a label and the citizen id,
 * never the id in clear), with a "last" pointer so that the wallet opens offline with
 * no session (tab closed, flight mode). Logging out keeps the key and the copies, so
 * that the phone can still show a code offline; "Remove this device" deletes the device
 * at the service (its copies are revoked at once) and wipes this browser's data. A
 * device the service no longer knows (removed from another device or by the operator:
 * 404 on its credentials) is forgotten here too, and registered anew at the next log-in.
 *
 * Browsers that cannot get `mode: "assisted"`: the holder key stays with the service
 * (encrypted in the wallet vault) and the service signs their presentations.
 *
 * A plain script defining `EcertDevice`; needs common.js (Ecert) and present.js
 * (EcertPresent). No inline script, no eval (the page's CSP).
 */
(function () {
  "use strict";

  var E = window.Ecert;
  var P = window.EcertPresent;

  var DB_NAME = "ecert-device";
  var DB_VERSION = 1;
  var STORE = "kv";
  var HANDLE_KEY = "ecert.wallet.handle";
  var DEVICES = "/api/v1/wallet/devices";
  /** Most copies kept (a citizen has a handful of cards; every input is bounded). */
  var MAX_COPIES = 64;
  // The freshest verifier bundle is kept for the copies' own status with no network.
  var BUNDLE_URL = "/api/v1/verifier/bundle";
  var MAX_BUNDLE = 4 * 1024 * 1024;
  /** Longest label sent: the service trims to 40 characters. */
  var MAX_LABEL = 40;

  // -- what this browser can do ------------------------------------------------------------

  /** True when the key can live here: secure context, WebCrypto, IndexedDB, present.js. */
  function supported() {
    try {
      return Boolean(
        window.isSecureContext &&
          window.crypto &&
          window.crypto.subtle &&
          window.indexedDB &&
          P &&
          P.supported()
      );
    } catch (e) {
      return false;
    }
  }

  // -- IndexedDB: one object store of explicit keys ------------------------------------------

  var dbPromise = null;

  function db() {
    if (dbPromise) return dbPromise;
    dbPromise = new Promise(function (resolve, reject) {
      var request = window.indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = function () {
        if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE);
      };
      request.onsuccess = function () {
        resolve(request.result);
      };
      request.onerror = function () {
        reject(request.error);
      };
      request.onblocked = function () {
        reject(new Error("IndexedDB blocked"));
      };
    });
    dbPromise.catch(function () {
      dbPromise = null;
    });
    return dbPromise;
  }

  function tx(mode, work) {
    return db().then(function (database) {
      return new Promise(function (resolve, reject) {
        var transaction = database.transaction(STORE, mode);
        var store = transaction.objectStore(STORE);
        var result;
        var request = work(store);
        if (request) {
          request.onsuccess = function () {
            result = request.result;
          };
        }
        transaction.oncomplete = function () {
          resolve(result);
        };
        transaction.onerror = function () {
          reject(transaction.error);
        };
        transaction.onabort = function () {
          reject(transaction.error || new Error("IndexedDB aborted"));
        };
      });
    });
  }

  function get(key) {
    return tx("readonly", function (store) {
      return store.get(key);
    });
  }

  function put(key, value) {
    return tx("readwrite", function (store) {
      return store.put(value, key);
    });
  }

  function del(key) {
    return tx("readwrite", function (store) {
      return store["delete"](key);
    });
  }

  // -- the citizen's handle ---------------------------------------------------------------------

  function hex(buffer) {
    var bytes = new Uint8Array(buffer);
    var out = "";
    for (var i = 0; i < bytes.length; i++) out += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    return out;
  }

  /** The key of this citizen's data here: a hash of the id, never the id itself. */
  function handleOf(citizenId) {
    var data = new TextEncoder().encode("ecert.device.v1:" + citizenId.trim().toUpperCase());
    return window.crypto.subtle.digest("SHA-256", data).then(function (digest) {
      return hex(digest).slice(0, 32);
    });
  }

  function sessionHandle() {
    try {
      return window.sessionStorage.getItem(HANDLE_KEY);
    } catch (e) {
      return null;
    }
  }

  function saveSessionHandle(handle) {
    try {
      if (handle) window.sessionStorage.setItem(HANDLE_KEY, handle);
      else window.sessionStorage.removeItem(HANDLE_KEY);
    } catch (e) {
      /* storage refused: the handle lasts as long as the page */
    }
  }

  // -- state shared with wallet.js ------------------------------------------------------------

  var state = {
    mode: supported() ? "pending" : "assisted", // "pending" | "device" | "assisted"
    handle: null,
    device: null, // {deviceId, kid, privateKey, publicJwk, label}
    data: null, // {copies: {cardId: {id, vct, sd_jwt, status}}, cards, scenes, trust, savedAt, offset}
    problem: null, // a stable code when registration failed (device_limit_reached...)
  };
  var listeners = [];
  /** Bumped when this device is removed here: a sync started before must not write back. */
  var epoch = 0;

  function changed() {
    listeners.slice().forEach(function (fn) {
      try {
        fn(state);
      } catch (e) {
        /* a listener's error is its own */
      }
    });
  }

  // -- registration: the key proof ------------------------------------------------------------

  function b64json(value) {
    return P.b64urlEncode(new TextEncoder().encode(JSON.stringify(value)));
  }

  /** The OpenID4VCI key proof JWT (typ openid4vci-proof+jwt, ES256, jwk in the header). */
  function keyProof(key, nonce, offset) {
    var header = { typ: "openid4vci-proof+jwt", alg: "ES256", jwk: key.publicJwk };
    var payload = {
      aud: window.location.origin,
      iat: Math.floor(Date.now() / 1000 + (offset || 0)),
      nonce: nonce,
    };
    var input = b64json(header) + "." + b64json(payload);
    return window.crypto.subtle
      .sign({ name: "ECDSA", hash: "SHA-256" }, key.privateKey, new TextEncoder().encode(input))
      .then(function (signature) {
        return input + "." + P.b64urlEncode(new Uint8Array(signature));
      });
  }

  /** A short name of this browser, for the device list ("Chrome on Android"). */
  function agentLabel() {
    var ua = navigator.userAgent || "";
    var browser = /Edg\//.test(ua)
      ? "Edge"
      : /Firefox\//.test(ua)
        ? "Firefox"
        : /Chrom(e|ium)\//.test(ua)
          ? "Chrome"
          : /Safari\//.test(ua)
            ? "Safari"
            : "Browser";
    var os = /Android/.test(ua)
      ? "Android"
      : /iPhone|iPad|iPod/.test(ua)
        ? "iOS"
        : /Windows/.test(ua)
          ? "Windows"
          : /Mac OS X/.test(ua)
            ? "macOS"
            : /Linux/.test(ua)
              ? "Linux"
              : "";
    return (os ? browser + " · " + os : browser).slice(0, MAX_LABEL);
  }

  function register(token) {
    var key;
    var offset = 0;
    return P.generateDeviceKey()
      .then(function (made) {
        key = made;
        return E.api("POST", DEVICES + "/nonce", { token: token });
      })
      .then(function (r) {
        if (!r.ok || !r.data || typeof r.data.c_nonce !== "string") throw problem(r);
        offset = E.clockOffset(r.headers);
        return keyProof(key, r.data.c_nonce, offset);
      })
      .then(function (proof) {
        return E.api("POST", DEVICES, { token: token, body: { proof: proof, label: agentLabel() } });
      })
      .then(function (r) {
        if (r.status !== 201 || !r.data || typeof r.data.id !== "string") throw problem(r);
        var device = {
          deviceId: r.data.id,
          kid: r.data.kid,
          label: r.data.label,
          privateKey: key.privateKey, // structured clone keeps it non-extractable
          publicJwk: key.publicJwk,
        };
        return put("device:" + state.handle, device).then(function () {
          return device;
        });
      });
  }

  function DeviceProblem(code) {
    this.name = "DeviceProblem";
    this.code = code;
    this.message = code;
  }
  DeviceProblem.prototype = Object.create(Error.prototype);

  function problem(r) {
    return new DeviceProblem((r && r.data && r.data.code) || "http_" + (r ? r.status : 0));
  }

  // -- sync: the device's copies, the card list, the scenes -------------------------------------

  function fetchCopies(token, device) {
    return E.api("GET", DEVICES + "/" + encodeURIComponent(device.deviceId) + "/credentials", {
      token: token,
    }).then(function (r) {
      if (r.status === 404 || r.status === 403) throw new DeviceProblem("device_gone");
      if (!r.ok || !r.data || !Array.isArray(r.data.items)) throw problem(r);
      var copies = {};
      r.data.items.slice(0, MAX_COPIES).forEach(function (item) {
        if (!item || typeof item.credential_id !== "string" || typeof item.sd_jwt !== "string") return;
        if (item.sd_jwt.length > P.MAX_CREDENTIAL) return;
        copies[item.credential_id] = { id: item.id, vct: item.vct, sd_jwt: item.sd_jwt, status: item.status };
      });
      return { copies: copies, offset: E.clockOffset(r.headers) };
    });
  }

  /** Forget this citizen's device here (key and data). */
  function forget(handle) {
    return Promise.all([del("device:" + handle), del("data:" + handle)]).then(function () {
      return get("last").then(function (last) {
        if (last === handle) return del("last");
      });
    });
  }

  /**
   * Make sure this browser is a registered device of the citizen and hold its copies.
   * `fresh`: just logged in (a forgotten device registers again only then).
   * Resolves to the state; never rejects (a failure leaves the assisted mode).
   */
  function sync(token, fresh) {
    if (!supported() || !state.handle || !token) {
      if (!supported()) state.mode = "assisted";
      changed();
      return Promise.resolve(state);
    }
    var handle = state.handle;
    var started = epoch;
    return get("device:" + handle)
      .then(function (device) {
        if (device) return device;
        return fresh ? register(token) : null;
      })
      .then(function (device) {
        if (!device) return null;
        return fetchCopies(token, device).then(
          function (got) {
            return { device: device, got: got };
          },
          function (err) {
            if (err && err.code === "device_gone") {
              // Removed elsewhere: drop the key and its copies; a new log-in registers again.
              state.problem = "device_removed";
              return forget(handle).then(function () {
                if (!fresh) return null;
                return register(token).then(function (again) {
                  return fetchCopies(token, again).then(function (got) {
                    return { device: again, got: got };
                  });
                });
              });
            }
            throw err;
          }
        );
      })
      .then(function (done) {
        if (!done) return done;
        return fetchBundle().then(function (bundle) {
          done.bundle = bundle;
          return done;
        });
      })
      .then(function (done) {
        // Logged out, or this device removed, meanwhile: write nothing back.
        if (handle !== state.handle || started !== epoch) return state;
        if (!done) {
          state.problem = state.problem || "device_none";
          state.device = null;
          state.mode = "assisted";
          changed();
          return state;
        }
        state.device = done.device;
        state.mode = "device";
        state.problem = null;
        var data = state.data || {};
        data.copies = done.got.copies;
        data.offset = done.got.offset;
        if (done.bundle && bundleIat(done.bundle) >= bundleIat(data.bundle)) data.bundle = done.bundle;
        data.savedAt = Math.floor(Date.now() / 1000);
        state.data = merge(data);
        return Promise.all([put("data:" + handle, data), put("last", handle)]).then(function () {
          changed();
          return state;
        });
      })
      .catch(function (err) {
        state.problem = (err && err.code) || "device_unavailable";
        state.mode = state.device ? "device" : "assisted";
        changed();
        return state;
      });
  }

  /** What the page saw last (card list, scenes, issuer names), kept with the copies. */
  var seen = {};

  function merge(data) {
    if (seen.cards) data.cards = seen.cards;
    if (seen.scenes) data.scenes = seen.scenes;
    if (seen.trust) data.trust = seen.trust;
    return data;
  }

  /** Keep what the page knows (card list, scenes, issuer names) for an offline start. */
  function remember(cards, scenes, trust) {
    if (Array.isArray(cards)) seen.cards = cards.slice(0, MAX_COPIES);
    if (Array.isArray(scenes)) seen.scenes = scenes;
    if (trust) seen.trust = trust;
    if (!state.handle || state.mode !== "device" || !state.data) return Promise.resolve();
    return put("data:" + state.handle, merge(state.data)).catch(function () {});
  }

  // -- the wallet page's entry points ----------------------------------------------------------

  /** Just logged in as `citizenId` with `token`: register if needed, then sync. */
  function onLogin(citizenId, token) {
    if (!supported()) {
      state.mode = "assisted";
      changed();
      return Promise.resolve(state);
    }
    return handleOf(citizenId)
      .then(function (handle) {
        state.handle = handle;
        saveSessionHandle(handle);
        return load(handle);
      })
      .then(function () {
        return sync(token, true);
      })
      .catch(function () {
        state.mode = "assisted";
        changed();
        return state;
      });
  }

  /** The page opened with a session (reload): load what is kept, sync when online. */
  function resume(token) {
    var handle = sessionHandle();
    if (!supported() || !handle) {
      // No handle (a session from before this page kept one): set up at the next log-in.
      state.mode = "assisted";
      if (supported()) state.problem = "device_none";
      changed();
      return Promise.resolve(state);
    }
    state.handle = handle;
    return load(handle).then(function () {
      if (navigator.onLine === false) return state;
      return sync(token, false);
    });
  }

  /** The page opened with no session: the last citizen's kept cards, if any. */
  function openOffline() {
    if (!supported()) return Promise.resolve(null);
    return get("last")
      .then(function (handle) {
        if (!handle) return null;
        state.handle = handle;
        return load(handle).then(function () {
          return state.device && state.data ? state : null;
        });
      })
      .catch(function () {
        return null;
      });
  }

  function load(handle) {
    return Promise.all([get("device:" + handle), get("data:" + handle)]).then(function (both) {
      if (handle !== state.handle) return state;
      state.device = both[0] || null;
      state.data = both[1] || null;
      if (state.device) state.mode = "device";
      changed();
      return state;
    });
  }

  /** Logged out: keep the key and copies (offline use), end the session's handle. */
  function onLogout() {
    seen = {};
    saveSessionHandle(null);
  }

  /** "Remove this device": delete it at the service (copies revoked), wipe it here. */
  function removeThisDevice(token) {
    var handle = state.handle;
    var device = state.device;
    if (!handle || !device) return Promise.resolve({ ok: true });
    epoch += 1;
    return E.api("DELETE", DEVICES + "/" + encodeURIComponent(device.deviceId), { token: token }).then(
      function (r) {
        if (!(r.status === 204 || r.status === 404)) return { ok: false, r: r };
        return forget(handle).then(function () {
          state.device = null;
          state.data = null;
          state.mode = "assisted";
          state.problem = "device_removed";
          changed();
          return { ok: true };
        });
      }
    );
  }

  // -- presenting ---------------------------------------------------------------------------------

  function copyFor(cardId) {
    var copies = state.data && state.data.copies;
    if (!copies || !Object.prototype.hasOwnProperty.call(copies, cardId)) return null;
    return copies[cardId];
  }

  /** True when this phone holds its own copy of the card (whatever its status). */
  function hasCopy(cardId) {
    return Boolean(state.mode === "device" && state.device && copyFor(cardId));
  }

  /** True when this phone can make the card's QR code itself. */
  /** What this phone last heard of its copy of the card ("valid", "revoked"…), or null. */
  function copyStatus(cardId) {
    var copy = state.mode === "device" && state.device && copyFor(cardId);
    return copy ? copy.status || null : null;
  }

  function canPresent(cardId) {
    var copy = state.mode === "device" && state.device && copyFor(cardId);
    return Boolean(copy && copy.status !== "revoked" && copy.status !== "suspended");
  }

  /** The verifier's leeway on `exp` (seconds; sdjwt.LEEWAY, present.js's LEEWAY). */
  var LEEWAY = 30;
  /** The claim a scene with `portrait: true` receives from an online code. */
  var PORTRAIT = "portrait";

  /**
   * The plain presentation (`jwt~d…~kb-jwt`) of the card for `scene` ({id, accept,
   * max_age, portrait}), signed here with the device key: {text, iat, expiresAt, offset}.
   * `online`: a scene that asks for the portrait gets the copy's `portrait` disclosure
   * too, as the service's online path gives it (an offline code never carries it: size).
   * Rejects with a DeviceProblem or EcertPresent.PresentError (`scene_unmet`,
   * `credential_expired`, `not_holder`...).
   */
  function build(cardId, scene, online) {
    var copy = copyFor(cardId);
    if (!copy || !state.device) return Promise.reject(new DeviceProblem("no_device_copy"));
    var offset = (state.data && state.data.offset) || 0;
    var now = Date.now() / 1000 + offset;
    var key = { privateKey: state.device.privateKey, publicJwk: state.device.publicJwk };
    return P.parseHeld(copy.sd_jwt)
      .then(function (held) {
        if (!online) return P.presentForScene(held, scene, key, { now: now });
        var accept = (scene && Array.isArray(scene.accept) ? scene.accept : []).filter(function (entry) {
          return entry && entry.vct === held.vct;
        })[0];
        if (!accept || !Array.isArray(accept.claims)) throw new DeviceProblem("scene_unmet");
        if (now > held.exp + LEEWAY) throw new DeviceProblem("credential_expired");
        var claims = accept.claims.slice();
        if (scene.portrait && held.disclosures.has(PORTRAIT) && claims.indexOf(PORTRAIT) < 0) {
          claims.push(PORTRAIT);
        }
        return P.present(held, claims, key, { aud: scene.id, now: now });
      })
      .then(function (text) {
        var iat = Math.floor(now);
        return { text: text, iat: iat, expiresAt: iat + (scene.max_age || 60), offset: offset };
      });
  }

  /**
   * The compact QR text for the card in `scene` ({id, accept, max_age}), made here with
   * the device key: {text, iat, expiresAt, offset}. Rejects with EcertPresent.PresentError.
   */
  function present(cardId, scene) {
    return build(cardId, scene, false).then(function (made) {
      return P.encodeCompact(made.text).then(function (text) {
        made.text = text;
        return made;
      });
    });
  }

  /**
   * The presentation for the online mode: made and signed here (with the portrait for a
   * scene that asks for it), plain text for `POST /api/v1/wallet/presentations`, which
   * holds it behind a short URL. The service never signs for this device.
   */
  function presentOnline(cardId, scene) {
    return build(cardId, scene, true);
  }

  // -- sets: a scene that asks for several credentials at once (all_of) ----------------------

  /**
   * The cards this phone would show for a scene with `all_of` ([{vct, claims}]): for each
   * required type in order, the card id of a copy it can show (not revoked or suspended
   * as far as it knows; `choice` {vct: cardId} picks among several, else the first in the
   * card list's order), or null where it holds none.
   */
  function setCards(scene, choice) {
    var allOf = scene && Array.isArray(scene.all_of) ? scene.all_of : [];
    var copies = (state.data && state.data.copies) || {};
    var ids = Object.keys(copies);
    var order = (state.data && Array.isArray(state.data.cards) ? state.data.cards : [])
      .map(function (card) {
        return card && card.id;
      })
      .filter(function (id) {
        return ids.indexOf(id) >= 0;
      });
    ids.forEach(function (id) {
      if (order.indexOf(id) < 0) order.push(id);
    });
    return allOf.map(function (entry) {
      var vct = entry && entry.vct;
      var wanted = choice && Object.prototype.hasOwnProperty.call(choice, vct) ? choice[vct] : null;
      var usable = order.filter(function (id) {
        return copies[id].vct === vct && canPresent(id);
      });
      if (wanted !== null) return usable.indexOf(wanted) >= 0 ? wanted : null;
      return usable.length ? usable[0] : null;
    });
  }

  /**
   * The compact QR text of the set a scene with `all_of` asks for ({id, all_of, max_age}),
   * made here: one copy per required type (setCards), every key-binding JWT signed by the
   * device key with the scene's id as `aud` and one nonce, packed as one `EC2:` code.
   * Resolves to {text, iat, expiresAt, offset, cards}; rejects with DeviceProblem
   * ("no_device_copy" when a type is missing here) or EcertPresent.PresentError
   * (`scene_unmet`, `credential_expired`, `not_holder`...).
   */
  function presentSet(scene, choice) {
    if (!state.device) return Promise.reject(new DeviceProblem("no_device_copy"));
    var cards = setCards(scene, choice);
    if (!cards.length || cards.indexOf(null) >= 0) {
      return Promise.reject(new DeviceProblem("no_device_copy"));
    }
    var offset = (state.data && state.data.offset) || 0;
    var now = Date.now() / 1000 + offset;
    var key = { privateKey: state.device.privateKey, publicJwk: state.device.publicJwk };
    return Promise.all(
      cards.map(function (id) {
        return P.parseHeld(copyFor(id).sd_jwt);
      })
    )
      .then(function (helds) {
        return P.presentSetForScene(helds, scene, key, { now: now });
      })
      .then(function (plain) {
        return P.encodeCompact(plain);
      })
      .then(function (text) {
        var iat = Math.floor(now);
        return { text: text, iat: iat, expiresAt: iat + (scene.max_age || 60), offset: offset, cards: cards };
      });
  }

  /** Resolves once the device set-up is no longer pending (or after `ms`), to the state. */
  function settled(ms) {
    if (state.mode !== "pending") return Promise.resolve(state);
    return new Promise(function (resolve) {
      var done = false;
      function listener(now) {
        if (now.mode !== "pending") finish();
      }
      function finish() {
        if (done) return;
        done = true;
        var at = listeners.indexOf(listener);
        if (at >= 0) listeners.splice(at, 1);
        resolve(state);
      }
      listeners.push(listener);
      window.setTimeout(finish, ms || 15000);
    });
  }

  /**
   * The card's own fields as this phone's copy holds them ({name: value}, top-level
   * claims only), for the preview when the service cannot be asked.
   */
  function claimsOf(cardId) {
    var copy = copyFor(cardId);
    if (!copy) return Promise.resolve(null);
    return P.parseHeld(copy.sd_jwt)
      .then(function (held) {
        var claims = {};
        held.plainClaims.forEach(function (value, name) {
          claims[name] = value;
        });
        held.disclosures.forEach(function (encoded, name) {
          var array = P.segmentJson(encoded[0]);
          if (Array.isArray(array) && array.length === 3 && array[1] === name) claims[name] = array[2];
        });
        return claims;
      })
      .catch(function () {
        return null;
      });
  }

  // -- the freshest verifier bundle: this phone's own copies' status, offline -------------

  /** The verifier bundle (public; at most MAX_BUNDLE characters), or null. */
  function fetchBundle() {
    return E.api("GET", BUNDLE_URL, { timeout: E.timeouts.download }).then(
      function (r) {
        if (!r.ok || !r.data || typeof r.data.trust_list !== "string") return null;
        if (!Array.isArray(r.data.status_lists)) return null;
        if (JSON.stringify(r.data).length > MAX_BUNDLE) return null;
        return { trust_list: r.data.trust_list, status_lists: r.data.status_lists };
      },
      function () {
        return null;
      }
    );
  }

  /** A JWT's payload, NOT verified (only for this phone's own advice; venues verify). */
  function payloadOf(jwt) {
    try {
      var part = String(jwt).split("~")[0].split(".")[1];
      return P.segmentJson(part);
    } catch (e) {
      return null;
    }
  }

  /** The `iat` of a bundle's trust list: which of two bundles is the fresher. */
  function bundleIat(bundle) {
    var payload = bundle ? payloadOf(bundle.trust_list) : null;
    return payload && typeof payload.iat === "number" ? payload.iat : -1;
  }

  /** zlib (RFC 1950) bytes inflated by the browser's DecompressionStream. */
  function inflate(bytes) {
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Response(stream).arrayBuffer().then(function (buffer) {
      return new Uint8Array(buffer);
    });
  }

  /**
   * What the freshest bundle this phone has seen says of the card's copy: "revoked",
   * "suspended" or null (valid, or nothing known). With no network this keeps the phone
   * from showing a code every venue would refuse; it is advice only (the token is not
   * verified here: a venue's verifier decides).
   */
  function bundleRefusal(cardId) {
    var data = state.data;
    var copy = data && data.copies ? data.copies[cardId] : null;
    if (!copy || !data.bundle || typeof DecompressionStream === "undefined") return Promise.resolve(null);
    var ref = payloadOf(copy.sd_jwt);
    ref = ref && ref.status && ref.status.status_list;
    if (!ref || typeof ref.uri !== "string" || typeof ref.idx !== "number") return Promise.resolve(null);
    var list = null;
    data.bundle.status_lists.some(function (token) {
      var payload = payloadOf(token);
      if (payload && payload.sub === ref.uri && payload.status_list) list = payload.status_list;
      return !!list;
    });
    if (!list || [1, 2, 4, 8].indexOf(list.bits) < 0 || typeof list.lst !== "string") {
      return Promise.resolve(null);
    }
    return Promise.resolve()
      .then(function () {
        return inflate(P.b64urlDecode(list.lst));
      })
      .then(function (bytes) {
        var bit = ref.idx * list.bits;
        if (ref.idx < 0 || bit >= bytes.length * 8) return null;
        var value = (bytes[bit >> 3] >> (bit & 7)) & ((1 << list.bits) - 1);
        return value === 1 ? "revoked" : value === 2 ? "suspended" : null;
      })
      .catch(function () {
        return null;
      });
  }

  /** A blob: URL of the QR code of `text` (an SVG image; the caller revokes it). */
  function qrImageUrl(text) {
    var svg = P.qrSvg(text).svg;
    return URL.createObjectURL(new Blob([svg], { type: "image/svg+xml" }));
  }

  window.EcertDevice = {
    supported: supported,
    state: state,
    onChange: function (fn) {
      listeners.push(fn);
    },
    onLogin: onLogin,
    resume: resume,
    openOffline: openOffline,
    onLogout: onLogout,
    remember: remember,
    removeThisDevice: removeThisDevice,
    hasCopy: hasCopy,
    canPresent: canPresent,
    claimsOf: claimsOf,
    present: present,
    presentOnline: presentOnline,
    setCards: setCards,
    presentSet: presentSet,
    settled: settled,
    qrImageUrl: qrImageUrl,
    bundleRefusal: bundleRefusal,
    copyStatus: copyStatus,
  };
})();

/* ecert wallet service worker (served at /wallet-sw.js, scope /wallet).
 *
 * - The shell (the page in both languages, its CSS, scripts, icons and manifest) is
 *   cached when the worker installs, so the wallet opens without a network.
 * - The card list (GET /api/v1/wallet/credentials: types, issuers, status, expiry; no
 *   personal fields) is fetched from the network first; the last good answer is kept
 *   and answered when offline, marked with X-Ecert-Offline: 1 and X-Ecert-Saved-At.
 *   Logging out deletes it. Scenes and the trust list (public) are kept the same way.
 * - The scripts that let the phone make its own QR codes (device.js, present.js and
 *   vendor/*) are part of the shell. The device's key and its credential copies are not
 *   here but in IndexedDB (device.js), where the key stays non-extractable.
 * - Nothing else is cached: the service's QR images, presentations and activity need
 *   the network.
 *
 * The server fills in VERSION (a digest of the files) and SHELL; a new version
 * replaces the old caches.
 */
"use strict";

var VERSION = "__VERSION__";
var SHELL = ["__SHELL__"];
var SHELL_CACHE = "ecert-wallet-shell-" + VERSION;
var DATA_CACHE = "ecert-wallet-data";
var DATA_PATHS = ["/api/v1/wallet/credentials", "/api/v1/scenes", "/trust-list"];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches
      .open(SHELL_CACHE)
      .then(function (cache) {
        return cache.addAll(SHELL);
      })
      .then(function () {
        return self.skipWaiting();
      })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches
      .keys()
      .then(function (names) {
        return Promise.all(
          names
            .filter(function (name) {
              return name.indexOf("ecert-wallet-shell-") === 0 && name !== SHELL_CACHE;
            })
            .map(function (name) {
              return caches.delete(name);
            })
        );
      })
      .then(function () {
        return self.clients.claim();
      })
  );
});

/** Network first; the cached copy of the same URL when the network fails. */
function shellPage(request) {
  return fetch(request)
    .then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(SHELL_CACHE).then(function (cache) {
          cache.put(request.url, copy);
        });
      }
      return response;
    })
    .catch(function () {
      return caches.match(request.url, { ignoreVary: true }).then(function (cached) {
        return cached || caches.match("/wallet", { ignoreVary: true });
      });
    });
}

/** Cache first for the versioned static files. */
function staticFile(request) {
  return caches.match(request, { ignoreVary: true }).then(function (cached) {
    return (
      cached ||
      fetch(request).then(function (response) {
        if (response.ok) {
          var copy = response.clone();
          caches.open(SHELL_CACHE).then(function (cache) {
            cache.put(request, copy);
          });
        }
        return response;
      })
    );
  });
}

/** Network first; keep the last good answer, and answer it (marked) when offline. */
function savedData(request, path) {
  return fetch(request)
    .then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        copy.blob().then(function (body) {
          var headers = new Headers(copy.headers);
          headers.set("X-Ecert-Saved-At", String(Math.floor(Date.now() / 1000)));
          return caches.open(DATA_CACHE).then(function (cache) {
            return cache.put(path, new Response(body, { status: 200, headers: headers }));
          });
        });
      }
      return response;
    })
    .catch(function (err) {
      return caches
        .open(DATA_CACHE)
        .then(function (cache) {
          return cache.match(path, { ignoreVary: true });
        })
        .then(function (cached) {
          if (!cached) throw err;
          return cached.blob().then(function (body) {
            var headers = new Headers(cached.headers);
            headers.set("X-Ecert-Offline", "1");
            return new Response(body, { status: 200, headers: headers });
          });
        });
    });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  var path = url.pathname;
  if (request.mode === "navigate" && (path === "/wallet" || path === "/wallet/")) {
    event.respondWith(shellPage(request));
  } else if (path.indexOf("/web/") === 0 || path === "/wallet.webmanifest") {
    event.respondWith(staticFile(request));
  } else if (DATA_PATHS.indexOf(path) >= 0 && !url.search) {
    event.respondWith(savedData(request, path));
  }
});

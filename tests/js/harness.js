/* Runs api/web/static/present.js in Node for tests/test_js_present.py.
 *
 * One JSON request per line on stdin, one JSON answer per line on stdout, in order:
 * {"op": ..., ...} -> {"ok": result} or {"error": {"code", "message", "name"}}.
 * Device keys made here stay in this process (they cannot be exported), named by a handle.
 */
"use strict";

const path = require("path");
const readline = require("readline");

const P = require(path.join(__dirname, "..", "..", "api", "web", "static", "present.js"));

const keys = new Map();

function hexOf(bytes) {
  return Buffer.from(bytes).toString("hex");
}

const ops = {
  async dictionary() {
    const digest = async (bytes) =>
      hexOf(new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", bytes)));
    return {
      hex: hexOf(P.DICTIONARY),
      sha256: await digest(P.DICTIONARY),
      declared: P.DICTIONARY_SHA256,
      v1_hex: hexOf(P.DICTIONARY_V1),
      v1_sha256: await digest(P.DICTIONARY_V1),
      v1_declared: P.DICTIONARY_V1_SHA256,
      prefix: P.PREFIX,
      version: P.VERSION,
    };
  },
  async encode({ texts }) {
    const out = [];
    for (const text of texts) {
      try {
        out.push({ ok: await P.encodeCompact(text) });
      } catch (err) {
        out.push({ error: { code: err.code, message: err.message } });
      }
    }
    return out;
  },
  async b45({ hex }) {
    return P.b45encode(Buffer.from(hex, "hex"));
  },
  async choose({ sd_jwt, claims }) {
    const held = await P.parseHeld(sd_jwt);
    return {
      vct: held.vct,
      prefix: [held.jwt].concat(P.chooseDisclosures(held, claims)).join("~") + "~",
    };
  },
  async parse({ sd_jwt }) {
    const held = await P.parseHeld(sd_jwt);
    return { iss: held.iss, vct: held.vct, exp: held.exp, holder: held.holderJwk };
  },
  async generate_key() {
    const key = await P.generateDeviceKey();
    const handle = String(keys.size + 1);
    keys.set(handle, key);
    return {
      handle,
      public_jwk: key.publicJwk,
      extractable: key.privateKey.extractable,
      usages: key.privateKey.usages,
    };
  },
  async export_private({ handle, format }) {
    const key = keys.get(handle);
    try {
      await globalThis.crypto.subtle.exportKey(format, key.privateKey);
      return { exported: true };
    } catch (err) {
      return { exported: false, name: err.name };
    }
  },
  async present({ handle, sd_jwt, scene, now, compact }) {
    const held = await P.parseHeld(sd_jwt);
    const plain = await P.presentForScene(held, scene, keys.get(handle), { now });
    return { plain, compact: compact ? await P.encodeCompact(plain) : null };
  },
  async present_set({ handle, sd_jwts, scene, now, nonce }) {
    const helds = [];
    for (const sdJwt of sd_jwts) helds.push(await P.parseHeld(sdJwt));
    const plain = await P.presentSetForScene(helds, scene, keys.get(handle), { now, nonce });
    return { plain, compact: await P.encodeCompact(plain) };
  },
  async present_with_link({ handle, sd_jwt, link, scene, now }) {
    const held = await P.parseHeld(sd_jwt);
    const linkHeld = await P.parseHeld(link);
    const plain = await P.presentWithLink(held, linkHeld, scene, keys.get(handle), { now });
    return { plain, compact: await P.encodeCompact(plain) };
  },
  async present_claims({ handle, sd_jwt, claims, aud, now }) {
    const held = await P.parseHeld(sd_jwt);
    return P.present(held, claims, keys.get(handle), { aud, now });
  },
  async qr({ text, level }) {
    return P.qrSvg(text, level);
  },
};

async function answer(line) {
  let request;
  try {
    request = JSON.parse(line);
    const op = ops[request.op];
    if (!op) throw new Error("unknown op " + request.op);
    return { ok: await op(request) };
  } catch (err) {
    return { error: { code: err.code || null, message: String(err.message), name: err.name } };
  }
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
let queue = Promise.resolve();
rl.on("line", (line) => {
  queue = queue.then(async () => {
    process.stdout.write(JSON.stringify(await answer(line)) + "\n");
  });
});

// The OpenWallet Foundation's TypeScript SD-JWT VC, Token Status List and DCQL libraries, driven
// by tests/test_interop_ts.py: one JSON request per line on stdin, one JSON answer per line
// on stdout ({"ok": true, ...} or {"ok": false, "error": "..."}). Nothing of ecert's code
// is used here: the libraries verify what ecert issues and issue what ecert verifies.
import { createInterface } from "node:readline";
import { subtle } from "node:crypto";
import { SDJwtVcInstance } from "@sd-jwt/sd-jwt-vc";
import { ES256, digest, generateSalt } from "@sd-jwt/crypto-nodejs";
import { getListFromStatusListJWT } from "@sd-jwt/jwt-status-list";
import { DcqlQuery } from "dcql";

const hasher = (data, alg) => digest(data, alg);

async function verifyKb(data, signature, payload) {
  // The holder key is the credential's cnf.jwk (RFC 7800), as RFC 9901 says.
  const verify = await ES256.getVerifier(payload.cnf.jwk);
  return verify(data, signature);
}

async function verifyPresentation(req) {
  let status = null;
  const sdjwt = new SDJwtVcInstance({
    hasher,
    hashAlg: "sha-256",
    verifier: await ES256.getVerifier(req.issuer_jwk),
    statusVerifier: await ES256.getVerifier(req.status_jwk ?? req.issuer_jwk),
    kbVerifier: verifyKb,
    statusListFetcher: async (uri) => {
      if (uri !== req.status_uri) throw new Error(`unexpected status list ${uri}`);
      return req.status_jwt;
    },
    statusValidator: async (value) => {
      status = value;
    },
  });
  const result = await sdjwt.verify(req.presentation, {
    keyBindingNonce: req.nonce,
    currentDate: req.now,
    skewSeconds: req.skew ?? 0,
    requiredClaimKeys: req.required ?? [],
  });
  return {
    claims: result.payload,
    header: result.header,
    kb: result.kb ? result.kb.payload : null,
    status,
  };
}

function statusOf(req) {
  const list = getListFromStatusListJWT(req.jwt);
  return { bits: list.getBitsPerStatus(), statuses: req.indices.map((i) => list.getStatus(i)) };
}

async function issue(req) {
  const sdjwt = new SDJwtVcInstance({
    hasher,
    hashAlg: "sha-256",
    saltGenerator: generateSalt,
    signer: await ES256.getSigner(req.issuer_private_jwk),
    signAlg: "ES256",
  });
  const frame = { _sd: req.sd };
  const credential = await sdjwt.issue(req.payload, frame, { header: { kid: req.kid } });
  return { credential };
}

async function present(req) {
  const sdjwt = new SDJwtVcInstance({
    hasher,
    hashAlg: "sha-256",
    kbSigner: await ES256.getSigner(req.holder_private_jwk),
    kbSignAlg: "ES256",
  });
  const frame = Object.fromEntries(req.disclose.map((name) => [name, true]));
  const presentation = await sdjwt.present(req.credential, frame, {
    kb: { payload: { iat: req.iat, aud: req.aud, nonce: req.nonce } },
  });
  return { presentation };
}

async function privateJwk() {
  const pair = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);
  const jwk = await subtle.exportKey("jwk", pair.privateKey);
  return { jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d } };
}

function dcql(req) {
  // The OpenWallet Foundation's DCQL library: is the query valid, can the credentials
  // satisfy it, and per Credential Query which credentials match with which claim set.
  let query;
  try {
    query = DcqlQuery.parse(req.query);
    DcqlQuery.validate(query);
  } catch (err) {
    return { valid: false };
  }
  const credentials = req.credentials.map((c) => ({
    credential_format: "dc+sd-jwt",
    vct: c.vct,
    claims: c.claims,
    cryptographic_holder_binding: true,
  }));
  const result = DcqlQuery.query(query, credentials);
  const matches = {};
  for (const [id, match] of Object.entries(result.credential_matches)) {
    matches[id] = (match.success ? match.valid_credentials : []).map((c) => {
      const sets = c.claims.valid_claim_sets ?? [];
      const first = sets.length ? sets.reduce((a, b) => (a.claim_set_index ?? 0) <= (b.claim_set_index ?? 0) ? a : b) : null;
      return { index: c.input_credential_index, claim_set: first ? (first.claim_set_index ?? null) : null };
    });
  }
  return { valid: true, can_be_satisfied: result.can_be_satisfied, matches };
}

const OPS = { verify: verifyPresentation, status: statusOf, issue, present, key: privateJwk, dcql };

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  let answer;
  try {
    const req = JSON.parse(line);
    const op = OPS[req.op];
    if (!op) throw new Error(`unknown op ${req.op}`);
    answer = { ok: true, ...(await op(req)) };
  } catch (err) {
    answer = { ok: false, error: String(err && err.message ? err.message : err) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}

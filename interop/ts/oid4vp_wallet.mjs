// An independent OpenID4VP 1.0 wallet, driven by tests/test_oid4vp_interop.py: one JSON
// request per line on stdin, one JSON answer per line on stdout ({"ok": true, ...} or
// {"ok": false, "error": "..."}). Nothing of ecert's code is used here: the request is
// parsed, fetched and checked by @openid4vc/openid4vp (its signature against the x5c
// certificate, the x509_hash client id against that certificate), the DCQL query is
// evaluated by the dcql library, the presentation is made by @sd-jwt/sd-jwt-vc, and the
// response is encrypted (ECDH-ES, Concat KDF, AES-GCM: RFC 7516/7518) with node:crypto
// below and sent by @openid4vc/openid4vp.
//
// op "present": {uri, credential, holder_private_jwk, tamper?, kb?: {nonce?, aud?},
//   disclose_extra?: [names], wait_before_submit?: seconds}
//   -> {status, body, request, query_id, disclosed, form}
import { createInterface } from "node:readline";
import {
  X509Certificate,
  createCipheriv,
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  randomBytes,
  verify as verifySignature,
} from "node:crypto";
import { Openid4vpClient } from "@openid4vc/openid4vp";
import { setGlobalConfig } from "@openid4vc/utils";
import { SDJwtVcInstance } from "@sd-jwt/sd-jwt-vc";
import { ES256, digest } from "@sd-jwt/crypto-nodejs";
import { DcqlQuery } from "dcql";

const hasher = (data, alg) => digest(data, alg);
// The test service listens on http://127.0.0.1 (no TLS in a test): the library refuses
// http:// URLs unless told; a real wallet keeps the default (https only).
setGlobalConfig({ allowInsecureUrls: true });
const b64u = (buf) => Buffer.from(buf).toString("base64url");

// -- JOSE callbacks of the openid4vc library -------------------------------------------

function verifyJwt(signer, { compact }) {
  // The request object is signed by the key of the leaf certificate in x5c (§5.9.3).
  if (signer.method !== "x5c") return { verified: false };
  const cert = new X509Certificate(Buffer.from(signer.x5c[0], "base64"));
  const now = new Date();
  if (now < new Date(cert.validFrom) || now > new Date(cert.validTo)) return { verified: false };
  const [h, p, s] = compact.split(".");
  const ok = verifySignature(
    "sha256",
    Buffer.from(`${h}.${p}`),
    { key: cert.publicKey, dsaEncoding: "ieee-p1363" },
    Buffer.from(s, "base64url"),
  );
  return ok
    ? { verified: true, signerJwk: cert.publicKey.export({ format: "jwk" }) }
    : { verified: false };
}

function certificateMetadata(certificate) {
  const cert = new X509Certificate(Buffer.from(certificate, "base64"));
  const names = (cert.subjectAltName ?? "").split(", ");
  return {
    sanDnsNames: names.filter((n) => n.startsWith("DNS:")).map((n) => n.slice(4)),
    sanUriNames: names.filter((n) => n.startsWith("URI:")).map((n) => n.slice(4)),
  };
}

function lengthPrefixed(data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

// JWE compact, "alg": "ECDH-ES" (direct key agreement), Concat KDF (RFC 7518 §4.6.2).
function encryptJwe(encryptor, data) {
  const keyBits = { A128GCM: 128, A256GCM: 256 }[encryptor.enc];
  if (!keyBits || encryptor.alg !== "ECDH-ES") throw new Error(`unsupported ${encryptor.alg}/${encryptor.enc}`);
  const recipient = createPublicKey({ key: encryptor.publicJwk, format: "jwk" });
  const ephemeral = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const z = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient });
  const epk = ephemeral.publicKey.export({ format: "jwk" });
  const header = { alg: "ECDH-ES", enc: encryptor.enc, epk: { kty: epk.kty, crv: epk.crv, x: epk.x, y: epk.y } };
  if (encryptor.publicJwk.kid) header.kid = encryptor.publicJwk.kid;
  if (encryptor.apu) header.apu = encryptor.apu;
  if (encryptor.apv) header.apv = encryptor.apv;
  const suppPub = Buffer.alloc(4);
  suppPub.writeUInt32BE(keyBits);
  const otherInfo = Buffer.concat([
    lengthPrefixed(Buffer.from(encryptor.enc)),
    lengthPrefixed(encryptor.apu ? Buffer.from(encryptor.apu, "base64url") : Buffer.alloc(0)),
    lengthPrefixed(encryptor.apv ? Buffer.from(encryptor.apv, "base64url") : Buffer.alloc(0)),
    suppPub,
  ]);
  const counter = Buffer.from([0, 0, 0, 1]);
  const cek = createHash("sha256").update(Buffer.concat([counter, z, otherInfo])).digest().subarray(0, keyBits / 8);
  const protectedHeader = b64u(JSON.stringify(header));
  const iv = randomBytes(12);
  const cipher = createCipheriv(`aes-${keyBits}-gcm`, cek, iv);
  cipher.setAAD(Buffer.from(protectedHeader, "ascii"));
  const ciphertext = Buffer.concat([cipher.update(Buffer.from(data, "utf8")), cipher.final()]);
  const jwe = [protectedHeader, "", b64u(iv), b64u(ciphertext), b64u(cipher.getAuthTag())].join(".");
  return { jwe, encryptionJwk: encryptor.publicJwk };
}

const callbacks = {
  fetch: (...args) => fetch(...args),
  hash: (data, alg) => {
    if (alg !== "sha-256") throw new Error(`unsupported hash ${alg}`);
    return new Uint8Array(createHash("sha256").update(data).digest());
  },
  verifyJwt,
  getX509CertificateMetadata: certificateMetadata,
  encryptJwe,
  signJwt: () => {
    throw new Error("this wallet signs no JWT for the library");
  },
  decryptJwe: () => {
    throw new Error("this wallet decrypts nothing");
  },
  generateRandom: (n) => new Uint8Array(randomBytes(n)),
};

const client = new Openid4vpClient({ callbacks });

// -- the wallet ------------------------------------------------------------------------

function disclosuresOf(query, queryId, claimSetIndex) {
  // the claims of the chosen claim set (§6.4.1), as top-level names
  const credential = query.credentials.find((c) => c.id === queryId);
  const claims = credential.claims ?? [];
  let chosen = claims;
  if (credential.claim_sets && claimSetIndex !== undefined && claimSetIndex !== null) {
    const ids = credential.claim_sets[claimSetIndex];
    chosen = claims.filter((c) => ids.includes(c.id));
  }
  return chosen.map((c) => c.path[0]);
}

async function present(req) {
  const parsed = client.parseOpenid4vpAuthorizationRequest({ authorizationRequest: req.uri });
  const resolved = await client.resolveOpenId4vpAuthorizationRequest({
    authorizationRequestPayload: parsed.params,
  });
  const request = resolved.authorizationRequestPayload;
  if (resolved.client.prefix !== "x509_hash") throw new Error(`unexpected client id prefix ${resolved.client.prefix}`);

  const sdjwt = new SDJwtVcInstance({
    hasher,
    hashAlg: "sha-256",
    kbSigner: await ES256.getSigner(req.holder_private_jwk),
    kbSignAlg: "ES256",
  });
  const claims = await sdjwt.getClaims(req.credential);
  const query = DcqlQuery.parse(resolved.dcql.query);
  DcqlQuery.validate(query);
  const result = DcqlQuery.query(query, [
    { credential_format: "dc+sd-jwt", vct: claims.vct, claims, cryptographic_holder_binding: true },
  ]);
  if (!result.can_be_satisfied) throw new Error("the DCQL query cannot be satisfied by this credential");
  const [queryId, match] = Object.entries(result.credential_matches).find(([, m]) => m.success);
  const sets = match.valid_credentials[0].claims.valid_claim_sets ?? [];
  const indexes = sets.map((s) => s.claim_set_index).filter((i) => i !== undefined);
  const claimSet = indexes.length ? Math.min(...indexes) : undefined;
  const disclosed = [...disclosuresOf(resolved.dcql.query, queryId, claimSet), ...(req.disclose_extra ?? [])];

  const frame = Object.fromEntries(disclosed.map((name) => [name, true]));
  const kb = {
    iat: Math.floor(Date.now() / 1000),
    aud: req.kb?.aud ?? request.client_id,
    nonce: req.kb?.nonce ?? request.nonce,
  };
  let presentation = await sdjwt.present(req.credential, frame, { kb: { payload: kb } });
  if (req.tamper === "disclosure") {
    // swap a disclosed value for another under the same salt and name: its digest no
    // longer matches any in the signed payload
    const parts = presentation.split("~");
    const d = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    d[2] = `${d[2]}x`;
    parts[1] = b64u(JSON.stringify(d));
    presentation = parts.join("~");
  }

  if (req.wait_before_submit) await new Promise((r) => setTimeout(r, req.wait_before_submit * 1000));
  const encrypted = request.response_mode === "direct_post.jwt";
  const response = await client.createOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: request,
    authorizationResponsePayload: { vp_token: { [queryId]: [presentation] } },
    jarm: encrypted
      ? {
          encryption: {},
          serverMetadata: {
            authorization_signing_alg_values_supported: ["ES256"],
            authorization_encryption_alg_values_supported: ["ECDH-ES"],
            authorization_encryption_enc_values_supported: ["A128GCM", "A256GCM"],
          },
        }
      : undefined,
  });
  const submitted = await client.submitOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: request,
    authorizationResponsePayload: response.authorizationResponsePayload,
    jarm: response.jarm,
  });
  const text = await submitted.response.text();
  const form = encrypted
    ? { response: response.jarm.responseJwt }
    : { vp_token: JSON.stringify(response.authorizationResponsePayload.vp_token), state: request.state };
  return {
    status: submitted.response.status,
    body: text ? JSON.parse(text) : null,
    request: {
      client_id: request.client_id,
      response_mode: request.response_mode,
      response_uri: request.response_uri,
      nonce: request.nonce,
      state: request.state,
      client_name: request.client_metadata?.client_name ?? null,
    },
    query_id: queryId,
    disclosed,
    form,
  };
}

const OPS = { present };

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  let answer;
  try {
    const req = JSON.parse(line);
    const op = OPS[req.op];
    if (!op) throw new Error(`unknown op ${req.op}`);
    answer = { ok: true, ...(await op(req)) };
  } catch (err) {
    const detail = err?.errorResponse?.error_description ?? err?.message ?? String(err);
    answer = { ok: false, error: String(detail) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}

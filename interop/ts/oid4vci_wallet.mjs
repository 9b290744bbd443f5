// An independent OpenID4VCI 1.0 wallet, driven by tests/test_oid4vci_interop.py: the
// openid4vc TypeScript client (@openid4vc/openid4vci with @openid4vc/oauth2) receives a
// credential from ecert's issuer over HTTP through the pre-authorized code flow, and
// @sd-jwt/sd-jwt-vc verifies it and presents it. One JSON request per line on stdin, one
// JSON answer per line on stdout: {"ok": true, ...}, or {"ok": false, "refused": {...}}
// when the issuer refused a step (its status and OAuth error body), or {"ok": false,
// "error": "..."} for anything else. Nothing of ecert's code is used here: the keys are
// Node's, the JWTs are signed here, and every request is the library's.
import { createInterface } from "node:readline";
import { createHash, generateKeyPairSync, randomBytes, sign as nodeSign } from "node:crypto";
import {
  Openid4vciClient,
  Openid4vciRetrieveCredentialsError,
  setGlobalConfig as setVciConfig,
} from "@openid4vc/openid4vci";
import {
  Oauth2ClientErrorResponseError,
  clientAuthenticationAnonymous,
  setGlobalConfig as setOauthConfig,
} from "@openid4vc/oauth2";
import { setGlobalConfig as setUtilsConfig } from "@openid4vc/utils";
import { SDJwtVcInstance } from "@sd-jwt/sd-jwt-vc";
import { ES256, digest, generateSalt } from "@sd-jwt/crypto-nodejs";

// The tests run the service on http://127.0.0.1: the libraries want https by default.
for (const set of [setVciConfig, setOauthConfig, setUtilsConfig]) set({ allowInsecureUrls: true });

const b64u = (bytes) => Buffer.from(bytes).toString("base64url");
const json64 = (value) => b64u(Buffer.from(JSON.stringify(value)));

function newKey(kind) {
  const { privateKey } =
    kind === "ed25519"
      ? generateKeyPairSync("ed25519")
      : generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = privateKey.export({ format: "jwk" });
  const { d, ...publicJwk } = jwk;
  return { privateKey, privateJwk: jwk, publicJwk, alg: kind === "ed25519" ? "EdDSA" : "ES256" };
}

// The wallet's JWT signer. `tamper` (from the request) changes the key proof before it is
// signed: another audience, another nonce, or another key type than the metadata says
// (the library itself refuses to make an EdDSA proof for an ES256-only configuration, so
// the swap happens here, after its check: what a wallet that ignores the metadata sends).
function signer(wallet, tamper) {
  return async (jwtSigner, { header, payload }) => {
    const head = { ...header };
    const body = { ...payload };
    let key = wallet;
    if (tamper?.aud !== undefined) body.aud = tamper.aud;
    if (tamper?.nonce !== undefined) body.nonce = tamper.nonce;
    if (tamper?.key_type === "ed25519") {
      key = newKey("ed25519");
      head.alg = key.alg;
      head.jwk = key.publicJwk;
    }
    const input = `${json64(head)}.${json64(body)}`;
    const signature =
      key.alg === "EdDSA"
        ? nodeSign(null, Buffer.from(input), key.privateKey)
        : nodeSign("sha256", Buffer.from(input), { key: key.privateKey, dsaEncoding: "ieee-p1363" });
    return { jwt: `${input}.${b64u(signature)}`, signerJwk: key.publicJwk };
  };
}

function client(key, tamper) {
  return new Openid4vciClient({
    callbacks: {
      fetch,
      hash: (data, alg) => createHash(alg.replace("-", "")).update(data).digest(),
      generateRandom: (n) => randomBytes(n),
      signJwt: signer(key, tamper),
      clientAuthentication: clientAuthenticationAnonymous(),
    },
  });
}

function refusal(err) {
  if (err instanceof Oauth2ClientErrorResponseError) {
    return { status: err.response.status, body: err.errorResponse };
  }
  if (err instanceof Openid4vciRetrieveCredentialsError) {
    const parsed = err.response.credentialErrorResponseResult;
    return { status: err.response.response.status, body: parsed?.success ? parsed.data : null };
  }
  return null;
}

// Resolve the offer, fetch the metadata, redeem the pre-authorized code with the tx_code,
// get a nonce, prove the key, receive the credential. Each step's answer is kept.
async function receive(req) {
  const key = newKey("p256");
  const wallet = client(key, req.tamper);
  const offer = await wallet.resolveCredentialOffer(req.offer_uri);
  const issuerMetadata = await wallet.resolveIssuerMetadata(offer.credential_issuer);
  const [configurationId] = offer.credential_configuration_ids;
  const { accessTokenResponse } = await wallet.retrievePreAuthorizedCodeAccessTokenFromOffer({
    credentialOffer: offer,
    issuerMetadata,
    txCode: req.tx_code,
  });
  if (req.stop_after_token) return { access_token: accessTokenResponse.access_token };
  const { c_nonce } = await wallet.requestNonce({ issuerMetadata });
  const { jwt } = await wallet.createCredentialRequestJwtProof({
    issuerMetadata,
    credentialConfigurationId: configurationId,
    signer: { method: "jwk", alg: key.alg, publicJwk: key.publicJwk },
    nonce: c_nonce,
  });
  const response = await wallet.retrieveCredentials({
    issuerMetadata,
    accessToken: accessTokenResponse.access_token,
    credentialConfigurationId: configurationId,
    proofs: { jwt: [jwt] },
  });
  const credentials = response.credentialResponse.credentials ?? [];
  return {
    offer,
    configuration_id: configurationId,
    configuration: issuerMetadata.credentialIssuer.credential_configurations_supported[configurationId],
    token_type: accessTokenResponse.token_type,
    credentials: credentials.map((c) => c.credential),
    holder_private_jwk: key.privateJwk,
    holder_jwk: key.publicJwk,
  };
}

// @sd-jwt/sd-jwt-vc verifies the credential: the issuer's key from its SD-JWT VC issuer
// metadata (found by the credential's kid), the status list fetched from its uri.
async function verify(req) {
  let status = null;
  const sdjwt = new SDJwtVcInstance({
    hasher: (data, alg) => digest(data, alg),
    hashAlg: "sha-256",
    verifier: await ES256.getVerifier(req.issuer_jwk),
    statusVerifier: await ES256.getVerifier(req.issuer_jwk),
    statusListFetcher: async (uri) => (await fetch(uri)).text(),
    statusValidator: async (value) => {
      status = value;
    },
  });
  const result = await sdjwt.verify(req.credential, { skewSeconds: 60 });
  return { claims: result.payload, header: result.header, status };
}

// A presentation for a verifier: the disclosures asked for and a KB-JWT over the nonce.
async function present(req) {
  const sdjwt = new SDJwtVcInstance({
    hasher: (data, alg) => digest(data, alg),
    hashAlg: "sha-256",
    saltGenerator: generateSalt,
    kbSigner: await ES256.getSigner(req.holder_private_jwk),
    kbSignAlg: "ES256",
  });
  const frame = Object.fromEntries(req.disclose.map((name) => [name, true]));
  const presentation = await sdjwt.present(req.credential, frame, {
    kb: { payload: { iat: req.iat, aud: req.aud, nonce: req.nonce } },
  });
  return { presentation };
}

const OPS = { receive, verify, present };

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  let answer;
  try {
    const req = JSON.parse(line);
    answer = { ok: true, ...(await OPS[req.op](req)) };
  } catch (err) {
    const refused = refusal(err);
    answer = refused
      ? { ok: false, refused, error: String(err?.message ?? err) }
      : { ok: false, error: String(err?.stack ?? err) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}

/* ecert: the phone builds a presentation and draws its QR code, with no network.
 *
 * The browser side of wallet/presentation.py (choose the disclosures, sign the
 * key-binding JWT with the device key; a set for a scene with `all_of`, each member
 * with the same aud and nonce), sdjwt/qr_transport.py (the compact "EC2:" transport:
 * same skeleton, escapes, frozen dictionary and DEFLATE settings, so the bytes are
 * identical, for one presentation and for a set) and wallet/qr.py (level M, one alphanumeric segment). The Python
 * files are the reference; tests/test_js_present.py runs this file in Node against them.
 *
 * A plain script: in a page it defines `EcertPresent` and needs vendor/pako_deflate.min.js
 * and vendor/qrcode.js loaded before it; in Node, `require("./present.js")`. WebCrypto
 * (crypto.subtle: a secure context) does SHA-256 and ES256; nothing here touches the
 * network, the DOM (except drawQr) or the page's other scripts.
 *
 *   const held = await EcertPresent.parseHeld(sdJwt);          // jwt~d1~...~dn~
 *   const key = await EcertPresent.generateDeviceKey();        // private key not extractable
 *   const text = await EcertPresent.presentForScene(held, scene, key);   // jwt~d~...~kb
 *   const set = await EcertPresent.presentSetForScene([held1, held2], scene, key); // ["…","…"]
 *   const qr = EcertPresent.drawQr(await EcertPresent.encodeCompact(text), element);
 *
 * Every refusal is an EcertPresent.PresentError with the same stable `code` as the
 * Python error it mirrors (malformed, credential_unreadable, scene_unmet, not_holder,
 * credential_expired, qr_unencodable, qr_too_large, webcrypto_unavailable).
 */
(function (root, factory) {
  "use strict";
  if (typeof module === "object" && module.exports) {
    module.exports = factory(
      require("./vendor/pako_deflate.min.js"),
      require("./vendor/qrcode.js"),
      globalThis.crypto || require("crypto").webcrypto // Node 18 has no global crypto
    );
  } else {
    root.EcertPresent = factory(root.pako, root.qrcode, root.crypto);
  }
})(typeof self !== "undefined" ? self : this, function (pako, qrcode, webcrypto) {
  "use strict";

  // -- limits and constants (sdjwt/qr_transport.py, wallet/presentation.py) ---------------

  const VERSION = 2;
  const PREFIX = "EC2:";
  /** Most presentations in one set (keys.trustlist.MAX_SET, sdjwt.qr_transport.MAX_SET). */
  const MAX_SET = 4;
  const MAX_COMPACT = 8 * 1024;
  const MAX_PRESENTATION = 16 * 1024;
  const MAX_SKELETON = 16 * 1024;
  /** Largest held credential read, in characters (all disclosures, a portrait included). */
  const MAX_CREDENTIAL = 64 * 1024;
  const MIN_TOKEN_CHARS = 22;
  const MAX_TOKEN_CHARS = 320;
  const MAX_TOKEN_BYTES = 239;
  const ESC = 0x00;
  const DIGEST = 0xf0;
  const SD_HASH = 0xf1;
  const NONCE_BYTES = 16;
  /** Leeway on a credential's exp, in seconds (sdjwt.LEEWAY). */
  const LEEWAY = 30;
  const TYP_SD_JWT_VC = "dc+sd-jwt";
  const TYP_KB_JWT = "kb+jwt";
  const SD = "_sd";
  const ARRAY_ELEMENT = "...";
  const RESERVED = new Set(["iss", "iat", "exp", "nbf", "vct", "cnf", "status", SD, "_sd_alg"]);
  /** SHA-256 of DICTIONARY_V1 and of DICTIONARY (version 2's): both frozen
   * (tests/test_qr_transport.py); the encoder writes version 2 only. */
  const DICTIONARY_V1_SHA256 = "c3a365a38be24c382375ca9b0cb4b7bada624fac9972a7fd757b3f4bf56868e5";
  const DICTIONARY_SHA256 = "79e235c8d7736bb6947817a99e52debc2babcc5215ab08999811aa3dae9824cb";
  /** zlib.compressobj(9, DEFLATED, -15, 9, Z_DEFAULT_STRATEGY, DICTIONARY) */
  const DEFLATE_LEVEL = 9;
  const DEFLATE_WINDOW_BITS = 15;
  const DEFLATE_MEM_LEVEL = 9;
  const DEFLATE_STRATEGY = 0;

  class PresentError extends Error {
    constructor(code, message) {
      super(message);
      this.name = "PresentError";
      this.code = code;
    }
  }

  function fail(code, message) {
    throw new PresentError(code, message);
  }

  // -- bytes: latin1 strings, UTF-8, base64url, Base45, SHA-256 --------------------------

  /** Bytes of a string whose characters are all below 256 (the dictionary's literals). */
  function latin1(text) {
    const out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
    return out;
  }

  function ascii(text) {
    return latin1(text);
  }

  function concat(arrays) {
    let size = 0;
    for (const a of arrays) size += a.length;
    const out = new Uint8Array(size);
    let pos = 0;
    for (const a of arrays) {
      out.set(a, pos);
      pos += a.length;
    }
    return out;
  }

  function hex(bytes) {
    let out = "";
    for (const b of bytes) out += (b < 16 ? "0" : "") + b.toString(16);
    return out;
  }

  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const SEXTET = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) SEXTET[B64.charCodeAt(i)] = i;
  const B64URL = /^[A-Za-z0-9_-]+$/;
  /** By length mod 4: the low bits of the last character that carry no data. */
  const UNUSED_BITS = [0, 0, 0b1111, 0b11];

  function b64urlEncode(bytes) {
    let out = "";
    let i = 0;
    for (; i + 2 < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
      out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
    }
    if (bytes.length - i === 1) {
      const n = bytes[i] << 16;
      out += B64[n >> 18] + B64[(n >> 12) & 63];
    } else if (bytes.length - i === 2) {
      const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
      out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63];
    }
    return out;
  }

  /** Canonical unpadded base64url only (keys/b64.py): one value, one text. */
  function b64urlDecode(text) {
    if (typeof text !== "string" || !B64URL.test(text)) {
      fail("malformed", "a segment is empty or not base64url");
    }
    const rem = text.length & 3;
    if (rem === 1) fail("malformed", "base64url text has an impossible length");
    if (rem && SEXTET[text.charCodeAt(text.length - 1)] & UNUSED_BITS[rem]) {
      fail("malformed", "base64url text is not canonical");
    }
    const out = new Uint8Array((text.length * 3) >> 2);
    let bits = 0;
    let value = 0;
    let pos = 0;
    for (let i = 0; i < text.length; i++) {
      value = (value << 6) | SEXTET[text.charCodeAt(i)];
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out[pos++] = (value >> bits) & 0xff;
      }
    }
    return out;
  }

  const B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

  /** Base45 (RFC 9285 §4), as sdjwt.qr_transport.b45encode. */
  function b45encode(bytes) {
    let out = "";
    let i = 0;
    for (; i + 1 < bytes.length; i += 2) {
      let n = bytes[i] * 256 + bytes[i + 1];
      const c = n % 45;
      n = (n - c) / 45;
      const d = n % 45;
      const e = (n - d) / 45;
      out += B45[c] + B45[d] + B45[e];
    }
    if (bytes.length % 2) {
      const last = bytes[bytes.length - 1];
      out += B45[last % 45] + B45[Math.floor(last / 45)];
    }
    return out;
  }

  function subtle() {
    if (!webcrypto || !webcrypto.subtle) {
      fail("webcrypto_unavailable", "this browser has no WebCrypto here (a secure context is needed)");
    }
    return webcrypto.subtle;
  }

  async function sha256(bytes) {
    return new Uint8Array(await subtle().digest("SHA-256", bytes));
  }

  /** The RFC 9901 digest of a disclosure (or sd_hash of a presentation): b64url SHA-256. */
  async function digestText(text) {
    return b64urlEncode(await sha256(ascii(text)));
  }

  function utf8(text) {
    return new TextEncoder().encode(text);
  }

  /** A segment's JSON. Refuses text that is not base64url, UTF-8 or JSON. */
  function segmentJson(segment) {
    const bytes = b64urlDecode(segment);
    let text;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      return JSON.parse(text);
    } catch (err) {
      return fail("malformed", "a segment is not UTF-8 JSON");
    }
  }

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function hasOwn(obj, key) {
    return Object.prototype.hasOwnProperty.call(obj, key);
  }

  // -- the preset dictionaries (frozen; built exactly as the Python builds them) -----------

  const T16 = "\x00\x10";
  const T32 = "\x00\x20";
  const REF0 = "\x00\xf0\x00";
  const REF1 = "\x00\xf0\x01";
  const REF2 = "\x00\xf0\x02";
  const SD_HASH_REF = "\x00\xf1";
  const CLAIM_NAMES = (
    "unified_social_credit_code,entity_type,legal_representative,registered_capital," +
    "establishment_date,business_term_until,business_scope,subject_name," +
    "subject_id_number,relative_name,relative_id_number,relationship,evidence_basis," +
    "proof_number,no_criminal_record,period_from,period_until,purpose,co_ownership," +
    "location,unit_number,right_type,right_nature,usage,land_area,building_area," +
    "land_use_until,other_rights,birth_time,gestational_weeks,birth_weight_grams," +
    "birth_length_cm,mother_name,mother_nationality,mother_ethnicity,mother_id_number," +
    "father_name,father_nationality,father_ethnicity,father_id_number," +
    "medical_institution,spouse_name,spouse_sex,spouse_nationality,spouse_birth_date," +
    "spouse_id_number,certificate_number,household_number,household_type," +
    "head_of_household_name,relationship_to_head,birth_place,native_place,education," +
    "marital_status,registration_authority,registration_date,household_address," +
    "residence_address,plate_number,vehicle_type,use_character,model,vin,engine_number," +
    "approved_passengers,inspection_valid_until,card_number,disability_category," +
    "disability_level,guardian_name,nationality,first_issue_date,licence_class," +
    "file_number,issue_date,photo_digest,valid_until,valid_from,issuing_authority," +
    "address,birth_date,ethnicity,sex,id_number,name"
  ).split(",");
  const VCT_SLUGS = (
    "no-criminal-record-proof,kinship-proof,business-licence,real-estate-certificate," +
    "disability-certificate,social-security-card,birth-medical-certificate," +
    "marriage-certificate,household-register,vehicle-licence,driving-licence," +
    "residence-permit"
  ).split(",");
  const SCENES = "school,pharmacy,internet_cafe,hospital,bank";
  const SD_ARRAY = [T32, REF0, REF1, T32, REF2].join('","');
  const DICTIONARY_V1 = latin1(
    [
      '"' + VCT_SLUGS.map((slug) => "urn:ecert:" + slug).join('","') + '"',
      '"' + SCENES.split(",").join('","') + '"',
      '["' + T16 + '","' + CLAIM_NAMES.join('","') + '","',
      '{"kty":"OKP","crv":"Ed25519","x":"' + T32 + '"}',
      '{"alg":"EdDSA","typ":"kb+jwt"}{"alg":"EdDSA","kid":"' + T32 + '","typ":"dc+sd-jwt"}',
      '{"iss":"https:///issuers/","iat":1,"exp":2,"vct":"urn:ecert:resident-id-card",',
      '"_sd":["' + SD_ARRAY + '"],"_sd_alg":"sha-256",',
      '"cnf":{"jwk":{"kty":"EC","crv":"P-256","x":"' + T32 + '","y":"' + T32 + '"}},',
      '"status":{"status_list":{"idx":1,"uri":"https:///issuers//status/1"}}}',
      '{"alg":"ES256","kid":"' + T32 + '","typ":"dc+sd-jwt"}',
      '["' + T16 + '","name","',
      '"]{"alg":"ES256","typ":"kb+jwt"}',
      '{"iat":1,"aud":"hotel","nonce":"' + T16 + '","sd_hash":"' + SD_HASH_REF + '"}',
    ].join("")
  );
  // version 2: what issue 12 added (scenes, departments, types, link and derived claims,
  // enumerated values), then version 1's dictionary whole (the most frequent last)
  const V2_SCENES = (
    "hostel,homestay,vaccination,health_checkup,maternity_care," +
    "medical_insurance_settlement,blood_donation,bank_counter,securities_account," +
    "insurance_claim,loan_application,currency_exchange,lock_service,knife_purchase," +
    "train,air_travel,ferry,coach,car_rental,elderly_transit,disability_transit," +
    "veteran_transit,vehicle_inspection_station,parking_permit,kindergarten," +
    "university_enrolment,exam_admission,library_card,tenancy_registration,notary," +
    "marriage_registration,divorce_registration,real_estate_transaction," +
    "housing_purchase_eligibility,business_registration,residence_permit_application," +
    "household_transfer,social_security_office,provident_fund_office," +
    "pension_certification,elderly_allowance,disability_allowance,veteran_services," +
    "funeral_arrangement,survivor_benefit,sim_card,broadband,number_portability," +
    "express_delivery,freight_consignment,parcel_collection,pawnshop,second_hand_phone," +
    "second_hand_car,prepaid_card_purchase,lottery_prize_claim,museum_discount," +
    "scenic_spot_discount,scenic_spot_ticket,disability_admission,student_discount," +
    "sports_venue,job_application,background_check,employment_registration," +
    "security_guard_check,qualification_check"
  ).split(",");
  const V2_DEPARTMENTS = (
    "disabled-persons-federation,housing-provident-fund,market-regulation," +
    "natural-resources,taxation,veterans-affairs,human-resources,housing,education," +
    "healthcare-security,health,civil-affairs,police"
  ).split(",");
  const V2_VCT_SLUGS = (
    "death-medical-certificate,divorce-certificate,provident-fund-certificate," +
    "security-guard-licence,student-card,tax-payment-certificate,tenancy-registration," +
    "vaccination-record,vehicle-inspection,degree-certificate,education-certificate," +
    "medical-insurance-card,professional-qualification,social-insurance-record," +
    "veteran-preferential-card,elderly-preferential-card,hk-macao-travel-permit," +
    "taiwan-travel-permit,passport,care-authorisation,guardianship,residence-attestation," +
    "age-attestation"
  ).split(",");
  /** Enumerated and recurring values, as JSON (UTF-8). */
  const V2_VALUES = '"legal_guardian","father","mother","长期","男","女"';
  const V2_CLAIM_NAMES = (
    "death_place,employer,has_arrears,inspection_date,insured_since,landlord_name," +
    "lease_from,monthly_deposit_yuan,paid_from,passport_number,qualification_level," +
    "registration_number,student_number,tax_type,vaccination_unit,batch_number," +
    "account_status,death_date,degree_name,dose_number,enrolment_date,insured_region," +
    "major,paid_until,permit_number,tax_paid_yuan,tax_year,vaccination_date,vaccine_name," +
    "award_date,degree_level,education_level,graduation_date,payment_status," +
    "qualification_name,holder_category,months_paid,insurance_type,institution,portrait," +
    "ward_birth_date,ward_id_number,guardian_id_number,principal_id_number," +
    "carer_id_number,scenes,carer_name,principal_name,ward_name,relationship," +
    "guardian_name,city,resident_of_city,age_over_14,age_over_16,age_over_60,age_over_65," +
    "age_over_18"
  ).split(",");
  const DICTIONARY = concat([
    latin1('"' + V2_SCENES.join('","') + '"'),
    latin1('"' + V2_DEPARTMENTS.map((d) => "/issuers/" + d + "/status/").join('","') + '"'),
    latin1('"' + V2_VCT_SLUGS.map((slug) => "urn:ecert:" + slug).join('","') + '"'),
    new TextEncoder().encode(V2_VALUES),
    latin1('["' + T16 + '","' + V2_CLAIM_NAMES.join('","') + '",true]'),
    DICTIONARY_V1,
  ]);

  let dictionaryChecked = null;

  /** Refuse to encode at all if the embedded dictionary is not the frozen one. */
  function checkDictionary() {
    if (dictionaryChecked === null) {
      dictionaryChecked = sha256(DICTIONARY).then((sum) => {
        if (hex(sum) !== DICTIONARY_SHA256) {
          throw new PresentError("qr_unencodable", "the compact QR dictionary is not version 2's");
        }
      });
      dictionaryChecked.catch(() => {
        dictionaryChecked = null; // retried next time (e.g. WebCrypto missing)
      });
    }
    return dictionaryChecked;
  }

  // -- the compact QR transport (sdjwt/qr_transport.py::encode_compact) -------------------

  function varint(n, out) {
    while (n >= 0x80) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
  }

  function isTokenByte(b) {
    return (
      (b >= 0x41 && b <= 0x5a) || // A-Z
      (b >= 0x61 && b <= 0x7a) || // a-z
      (b >= 0x30 && b <= 0x39) || // 0-9
      b === 0x5f || // _
      b === 0x2d // -
    );
  }

  /**
   * The runs that Python's `(?<=")[A-Za-z0-9_-]{22,320}(?=")` finds, as [start, end):
   * a maximal run of base64url bytes right after a '"', 22 to 320 long, followed by '"'.
   * (A closing quote may open the next run, as the look-behind allows.)
   */
  function tokenRuns(data) {
    const runs = [];
    for (let i = 0; i < data.length; i++) {
      if (data[i] !== 0x22) continue;
      const start = i + 1;
      let end = start;
      while (end < data.length && isTokenByte(data[end])) end++;
      const size = end - start;
      if (size >= MIN_TOKEN_CHARS && size <= MAX_TOKEN_CHARS && data[end] === 0x22) {
        runs.push([start, end]);
      }
      i = end - 1; // the next '"' (if any) is at end
    }
    return runs;
  }

  function pushEscaped(out, data, start, end) {
    for (let i = start; i < end; i++) {
      if (data[i] === ESC) out.push(ESC);
      out.push(data[i]);
    }
  }

  function runText(data, start, end) {
    let text = "";
    for (let i = start; i < end; i++) text += String.fromCharCode(data[i]);
    return text;
  }

  class Packer {
    constructor() {
      this.skeleton = [];
      this.tail = [];
      /** hex SHA-256 of each disclosure's text -> its index (the first, if repeated) */
      this.digests = new Map();
      this.sdHash = null;
    }

    jwt(jwt) {
      const pieces = jwt.split(".");
      if (pieces.length !== 3) fail("malformed", "a JWT is not three base64url segments");
      const [header, payload, signature] = pieces.map(b64urlDecode);
      this.text(header);
      this.text(payload);
      varint(signature.length, this.skeleton);
      for (const b of signature) this.tail.push(b);
    }

    text(data) {
      const packed = [];
      let start = 0;
      for (const [runStart, runEnd] of tokenRuns(data)) {
        if ((runEnd - runStart) % 4 === 1) continue;
        let raw;
        try {
          raw = b64urlDecode(runText(data, runStart, runEnd));
        } catch (err) {
          continue; // not canonical: it stays text
        }
        if (raw.length > MAX_TOKEN_BYTES) continue;
        pushEscaped(packed, data, start, runStart);
        start = runEnd;
        const key = hex(raw);
        const j = this.digests.get(key);
        if (j !== undefined) {
          packed.push(ESC, DIGEST);
          varint(j, packed);
        } else if (key === this.sdHash) {
          packed.push(ESC, SD_HASH);
        } else {
          packed.push(ESC, raw.length);
          for (const b of raw) this.tail.push(b);
        }
      }
      pushEscaped(packed, data, start, data.length);
      varint(packed.length, this.skeleton);
      for (const b of packed) this.skeleton.push(b);
    }
  }

  function segmentBytes(segment) {
    if (!segment || !B64URL.test(segment)) fail("malformed", "a segment is empty or not base64url");
    return b64urlDecode(segment);
  }

  /**
   * The presentations of `text`: itself, or the members of the plain set text, exactly
   * '["' + members.join('","') + '"]' with 2 to MAX_SET members of SD-JWT characters
   * (what JSON.stringify and Python's json.dumps(separators=(",", ":")) write for them);
   * any other array form is refused, as sdjwt.qr_transport._members refuses it.
   */
  function setMembers(text) {
    if (text[0] !== "[") return [text];
    const form = "a set presentation must be a JSON array of strings without spaces";
    if (!(text.startsWith('["') && text.endsWith('"]')) || text.length < 4) fail("malformed", form);
    const members = text.slice(2, -2).split('","');
    if (members.length < 2 || members.length > MAX_SET) {
      fail("malformed", "a set presentation holds 2 to " + MAX_SET + " presentations");
    }
    for (const member of members) if (!SD_JWT_CHARS.test(member)) fail("malformed", form);
    return members;
  }

  const SD_JWT_CHARS = /^[A-Za-z0-9_.~-]+$/;

  /** One presentation into the packer; its references name its own disclosures only. */
  async function packPresentation(packer, presentation) {
    const parts = presentation.split("~");
    if (parts.length < 2) fail("malformed", "not an SD-JWT presentation (compact serialization)");
    const issuerJwt = parts[0];
    const disclosures = parts.slice(1, -1);
    const kbJwt = parts[parts.length - 1];
    packer.digests = new Map();
    packer.sdHash = null;
    varint(disclosures.length, packer.skeleton);
    packer.skeleton.push(kbJwt ? 1 : 0);
    for (const disclosure of disclosures) {
      if (disclosure.includes(".")) fail("malformed", "a disclosure is not one base64url segment");
      packer.text(segmentBytes(disclosure));
    }
    // references to disclosures only from the JWTs after them, never between disclosures
    for (let j = 0; j < disclosures.length; j++) {
      const key = hex(await sha256(ascii(disclosures[j])));
      if (!packer.digests.has(key)) packer.digests.set(key, j);
    }
    packer.jwt(issuerJwt);
    if (kbJwt) {
      const prefix = presentation.slice(0, presentation.length - kbJwt.length);
      packer.sdHash = hex(await sha256(ascii(prefix)));
      packer.jwt(kbJwt);
    }
  }

  /**
   * The compact QR text ("EC2:" + Base45) of an SD-JWT or SD-JWT+KB, or of a set (the
   * plain set text), as the Python's encode_compact writes it.
   */
  async function encodeCompact(presentation) {
    await checkDictionary();
    if (typeof presentation !== "string") fail("malformed", "the presentation must be text");
    if (presentation.length > MAX_PRESENTATION) fail("malformed", "the presentation is too large");
    const members = setMembers(presentation);
    const packer = new Packer();
    packer.skeleton.push(members.length);
    for (const member of members) await packPresentation(packer, member);
    if (packer.skeleton.length > MAX_SKELETON) {
      fail("malformed", "the presentation is too large for the compact QR transport");
    }
    const deflated = pako.deflateRaw(new Uint8Array(packer.skeleton), {
      level: DEFLATE_LEVEL,
      windowBits: DEFLATE_WINDOW_BITS,
      memLevel: DEFLATE_MEM_LEVEL,
      strategy: DEFLATE_STRATEGY,
      dictionary: DICTIONARY,
    });
    const text = PREFIX + b45encode(concat([deflated, new Uint8Array(packer.tail)]));
    if (text.length > MAX_COMPACT) {
      fail("malformed", "the presentation is too large for the compact QR transport");
    }
    return text;
  }

  // -- held credentials and the disclosures a scene needs (wallet/presentation.py) --------

  function decodeDisclosure(encoded) {
    const array = segmentJson(encoded);
    if (!Array.isArray(array) || (array.length !== 2 && array.length !== 3)) {
      fail("credential_unreadable", "a disclosure must be a JSON array of 2 or 3 elements");
    }
    if (typeof array[0] !== "string") fail("credential_unreadable", "a disclosure salt must be text");
    if (array.length === 2) return { name: null, value: array[1] };
    if (typeof array[1] !== "string" || array[1] === SD || array[1] === ARRAY_ELEMENT) {
      fail("credential_unreadable", "a disclosure has an unusable claim name");
    }
    return { name: array[1], value: array[2] };
  }

  /**
   * Every disclosure referenced inside `value`, recursively (RFC 9901 §4.2.4, §4.2.6).
   * Members are walked in JavaScript's key order, which puts integer-like names ("1")
   * first where Python keeps the JSON order: only the order of such disclosures could
   * differ, and the verifier does not depend on it.
   */
  function nested(value, byDigest, out) {
    if (isObject(value)) {
      const digests = hasOwn(value, SD) ? value[SD] : [];
      for (const dig of Array.isArray(digests) ? digests : []) {
        const found = typeof dig === "string" ? byDigest.get(dig) : undefined;
        if (found !== undefined) {
          out.push(found.encoded);
          nested(found.value, byDigest, out);
        }
      }
      for (const key of Object.keys(value)) {
        if (key !== SD) nested(value[key], byDigest, out);
      }
    } else if (Array.isArray(value)) {
      for (const item of value) {
        if (isObject(item) && Object.keys(item).length === 1 && hasOwn(item, ARRAY_ELEMENT)) {
          const dig = item[ARRAY_ELEMENT];
          const found = typeof dig === "string" ? byDigest.get(dig) : undefined;
          if (found !== undefined) {
            out.push(found.encoded);
            nested(found.value, byDigest, out);
          }
        } else {
          nested(item, byDigest, out);
        }
      }
    }
    return out;
  }

  /**
   * Read a held SD-JWT VC (`jwt~d1~...~dn~`) without checking the issuer's signature (the
   * verifier's job), as HeldCredential.parse. Returns
   * {sdJwt, jwt, iss, vct, exp, holderJwk, disclosures: Map(name -> [encoded...]),
   *  plainClaims: Map(name -> value), plainNested: Map(name -> [encoded...])}.
   */
  async function parseHeld(sdJwt) {
    if (typeof sdJwt !== "string" || sdJwt.length > MAX_CREDENTIAL) {
      fail("credential_unreadable", "not an SD-JWT VC: missing or too large");
    }
    const parts = sdJwt.split("~");
    if (parts.length < 2) fail("credential_unreadable", "not an SD-JWT VC: no '~'");
    const jwt = parts[0];
    const encoded = parts.slice(1, -1);
    if (encoded.includes("")) fail("credential_unreadable", "not an SD-JWT VC: an empty disclosure");
    if (parts[parts.length - 1]) {
      fail("credential_unreadable", "a credential must not carry a key-binding JWT");
    }
    const pieces = jwt.split(".");
    if (pieces.length !== 3 || !pieces.every((p) => B64URL.test(p))) {
      fail("credential_unreadable", "not an SD-JWT VC: not a compact JWS");
    }
    let header, p;
    const byDigest = new Map();
    try {
      header = segmentJson(pieces[0]);
      p = segmentJson(pieces[1]);
      for (const e of encoded) {
        const d = decodeDisclosure(e);
        byDigest.set(await digestText(e), { encoded: e, name: d.name, value: d.value });
      }
    } catch (err) {
      if (err instanceof PresentError && err.code === "malformed") {
        fail("credential_unreadable", "not an SD-JWT VC: " + err.message);
      }
      throw err;
    }
    if (!isObject(header) || header.typ !== TYP_SD_JWT_VC || !isObject(p)) {
      fail("credential_unreadable", "not an SD-JWT VC: wrong header or payload");
    }
    if (header.alg !== "ES256" && header.alg !== "EdDSA") {
      fail("credential_unreadable", "not an SD-JWT VC: JWS 'alg' is not allowed");
    }
    if (typeof p.iss !== "string" || typeof p.vct !== "string") {
      fail("credential_unreadable", "the credential has no 'iss' or 'vct'");
    }
    const jwk = isObject(p.cnf) && isObject(p.cnf.jwk) ? p.cnf.jwk : null;
    if (!Number.isInteger(p.exp) || jwk === null) {
      fail("credential_unreadable", "the credential has no 'exp' or holder key");
    }
    const disclosures = new Map();
    const top = hasOwn(p, SD) ? p[SD] : [];
    for (const dig of Array.isArray(top) ? top : []) {
      const found = typeof dig === "string" ? byDigest.get(dig) : undefined;
      if (found !== undefined && found.name !== null) {
        disclosures.set(found.name, [found.encoded].concat(nested(found.value, byDigest, [])));
      }
    }
    const plainClaims = new Map();
    const plainNested = new Map();
    for (const key of Object.keys(p)) {
      if (RESERVED.has(key)) continue;
      plainClaims.set(key, p[key]);
      const inner = nested(p[key], byDigest, []);
      if (inner.length) plainNested.set(key, inner);
    }
    return {
      sdJwt,
      jwt,
      iss: p.iss,
      vct: p.vct,
      exp: p.exp,
      holderJwk: jwk,
      disclosures,
      plainClaims,
      plainNested,
    };
  }

  /** The disclosures revealing exactly `claims`, each once, in the order asked. */
  function chooseDisclosures(held, claims) {
    const chosen = [];
    for (const name of claims) {
      if (held.disclosures.has(name)) {
        chosen.push(...held.disclosures.get(name));
      } else if (held.plainClaims.has(name)) {
        chosen.push(...(held.plainNested.get(name) || []));
      } else {
        fail("scene_unmet", "the credential has no claim " + JSON.stringify(name));
      }
    }
    return Array.from(new Set(chosen)); // each disclosure once, even if asked twice
  }

  function sameKey(a, b) {
    return (
      isObject(a) &&
      isObject(b) &&
      a.kty === b.kty &&
      a.crv === b.crv &&
      a.x === b.x &&
      a.y === b.y &&
      typeof a.x === "string"
    );
  }

  /**
   * `jwt~d...~kb-jwt` disclosing exactly `claims`, bound to `aud`, signed with the device
   * key ({privateKey, publicJwk}). `now` (seconds) and `nonce` are for tests.
   */
  async function present(held, claims, deviceKey, options) {
    const opts = options || {};
    if (!deviceKey || !sameKey(held.holderJwk, deviceKey.publicJwk)) {
      fail("not_holder", "this credential is bound to another holder key");
    }
    if (typeof opts.aud !== "string" || !opts.aud) fail("scene_unmet", "no audience (scene) given");
    const chosen = chooseDisclosures(held, claims);
    const presented = [held.jwt].concat(chosen).join("~") + "~";
    const now = opts.now === undefined ? Date.now() / 1000 : opts.now;
    let nonce = opts.nonce;
    if (nonce === undefined) {
      nonce = b64urlEncode(webcrypto.getRandomValues(new Uint8Array(NONCE_BYTES)));
    }
    const payload = {
      iat: Math.floor(now),
      aud: opts.aud,
      nonce: nonce,
      sd_hash: await digestText(presented),
    };
    return presented + (await signKbJwt(payload, deviceKey.privateKey));
  }

  /** ES256 KB-JWT: WebCrypto ECDSA P-256 gives raw r||s, already the JWS form. */
  async function signKbJwt(payload, privateKey) {
    // PyJWT's header, keys sorted: {"alg":"ES256","typ":"kb+jwt"}
    const header = { alg: "ES256", typ: TYP_KB_JWT };
    const input = b64urlEncode(utf8(JSON.stringify(header))) + "." +
      b64urlEncode(utf8(JSON.stringify(payload)));
    const signature = await subtle().sign(
      { name: "ECDSA", hash: "SHA-256" },
      privateKey,
      ascii(input)
    );
    return input + "." + b64urlEncode(new Uint8Array(signature));
  }

  /**
   * The presentation a scene asks for ({id, accept: [{vct, claims}]}, as in the trust
   * list): refused if the scene does not take this type or the credential has expired.
   */
  async function presentForScene(held, scene, deviceKey, options) {
    const opts = options || {};
    const accept = (scene && Array.isArray(scene.accept) ? scene.accept : []).find(
      (entry) => entry && entry.vct === held.vct
    );
    if (!accept || !Array.isArray(accept.claims)) {
      fail("scene_unmet", "this scene does not accept " + held.vct);
    }
    const now = opts.now === undefined ? Date.now() / 1000 : opts.now;
    if (now > held.exp + LEEWAY) {
      fail("credential_expired", "this credential has expired: it cannot be shown");
    }
    return present(held, accept.claims, deviceKey, { aud: scene.id, now: now, nonce: opts.nonce });
  }

  /**
   * A set presentation (common to the wallet and the verifier: a JSON array of 2 to
   * MAX_SET SD-JWT+KB texts, written without spaces): one member per `{held, claims}`,
   * in that order, every KB-JWT signed with the same device key, `aud` and `nonce` (one
   * nonce drawn for the whole set unless given). Refused as `present` refuses a member.
   */
  async function presentSet(items, deviceKey, options) {
    const opts = options || {};
    if (!Array.isArray(items) || items.length < 2 || items.length > MAX_SET) {
      fail("scene_unmet", "a set holds 2 to " + MAX_SET + " credentials");
    }
    const now = opts.now === undefined ? Date.now() / 1000 : opts.now;
    let nonce = opts.nonce;
    if (nonce === undefined) {
      nonce = b64urlEncode(webcrypto.getRandomValues(new Uint8Array(NONCE_BYTES)));
    }
    const members = [];
    for (const item of items) {
      members.push(await present(item.held, item.claims, deviceKey, { aud: opts.aud, now, nonce }));
    }
    return JSON.stringify(members);
  }

  /**
   * The set presentation a scene with `all_of` ([{vct, claims}], as in the trust list)
   * asks for, from `helds` (held credentials, one per required type: the caller picks
   * which copy): refused if a type is missing or a credential has expired.
   */
  async function presentSetForScene(helds, scene, deviceKey, options) {
    const opts = options || {};
    const allOf = scene && Array.isArray(scene.all_of) ? scene.all_of : [];
    if (allOf.length < 2 || allOf.length > MAX_SET) {
      fail("scene_unmet", "this scene does not ask for a set of credentials");
    }
    const now = opts.now === undefined ? Date.now() / 1000 : opts.now;
    const items = [];
    for (const entry of allOf) {
      const held = (Array.isArray(helds) ? helds : []).find((h) => h && entry && h.vct === entry.vct);
      if (!held || !Array.isArray(entry.claims)) {
        fail("scene_unmet", "this scene also needs a " + JSON.stringify(entry && entry.vct));
      }
      if (now > held.exp + LEEWAY) {
        fail("credential_expired", "this credential has expired: it cannot be shown");
      }
      items.push({ held, claims: entry.claims });
    }
    return presentSet(items, deviceKey, { aud: scene.id, now, nonce: opts.nonce });
  }

  /**
   * The link credentials a guardian or a carer presents with a held-for credential, the
   * scene flag that admits each, and the claims the scene gets from it (as
   * verifier/links.py's GUARDIANSHIP_CLAIMS and CARE_CLAIMS).
   */
  const LINKS = {
    "urn:ecert:guardianship": { flag: "guardian", claims: ["guardian_name", "ward_name", "relationship"] },
    "urn:ecert:care-authorisation": { flag: "carer", claims: ["principal_name", "carer_name", "scenes"] },
  };

  /**
   * A guardian's or a carer's set for a one-of scene: [the held-for credential with the
   * claims the scene accepts of it, the link credential with its link claims], both
   * signed by this device key with the scene's id as `aud` and one nonce. Refused when
   * the scene does not take that link (`guardian`/`carer` not true), does not accept the
   * held credential's type, or either credential has expired.
   */
  async function presentWithLink(held, link, scene, deviceKey, options) {
    const opts = options || {};
    const kind = link && hasOwn(LINKS, link.vct) ? LINKS[link.vct] : null;
    if (!kind) fail("scene_unmet", "the second credential is not a guardianship or care authorisation");
    if (!scene || scene[kind.flag] !== true) fail("scene_unmet", "this scene does not take " + link.vct);
    const accept = (Array.isArray(scene.accept) ? scene.accept : []).find(
      (entry) => entry && held && entry.vct === held.vct
    );
    if (!accept || !Array.isArray(accept.claims)) {
      fail("scene_unmet", "this scene does not accept " + (held && held.vct));
    }
    const now = opts.now === undefined ? Date.now() / 1000 : opts.now;
    for (const one of [held, link]) {
      if (now > one.exp + LEEWAY) fail("credential_expired", "this credential has expired: it cannot be shown");
    }
    const items = [
      { held, claims: accept.claims },
      { held: link, claims: kind.claims },
    ];
    return presentSet(items, deviceKey, { aud: scene.id, now, nonce: opts.nonce });
  }

  /** A device key: P-256, the private half not extractable (it never leaves this browser). */
  async function generateDeviceKey() {
    const pair = await subtle().generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
      "sign",
      "verify",
    ]);
    const jwk = await subtle().exportKey("jwk", pair.publicKey);
    return {
      privateKey: pair.privateKey,
      publicKey: pair.publicKey,
      publicJwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
    };
  }

  // -- the QR code (wallet/qr.py: level M; "EC2:" text as one alphanumeric segment) ------

  const ALPHANUMERIC = /^[0-9A-Z $%*+\-./:]+$/;
  const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

  /** The symbol for `text` at `level` (default M), at the smallest version. */
  function qrSymbol(text, level) {
    if (typeof text !== "string" || !PRINTABLE_ASCII.test(text)) {
      fail("qr_unencodable", "only printable ASCII text is drawn");
    }
    const qr = qrcode(0, level || "M");
    qr.addData(text, ALPHANUMERIC.test(text) ? "Alphanumeric" : "Byte");
    try {
      qr.make();
    } catch (err) {
      fail("qr_too_large", "the text is too long for a QR code");
    }
    const size = qr.getModuleCount();
    return { qr, size, version: (size - 17) / 4 };
  }

  /** The dark modules of `text`'s QR code as one SVG path (a run of a row per subpath). */
  function qrPath(qr, size, border) {
    let d = "";
    for (let row = 0; row < size; row++) {
      for (let col = 0; col < size; ) {
        if (!qr.isDark(row, col)) {
          col++;
          continue;
        }
        let end = col;
        while (end < size && qr.isDark(row, end)) end++;
        d += "M" + (col + border) + " " + (row + border) + "h" + (end - col) + "v1h-" +
          (end - col) + "z";
        col = end;
      }
    }
    return d;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";

  /** {version, size, svg}: the QR code of `text` as SVG markup (a 4-module white border). */
  function qrSvg(text, level) {
    const { qr, size, version } = qrSymbol(text, level);
    const side = size + 8;
    const svg =
      '<svg xmlns="' + SVG_NS + '" viewBox="0 0 ' + side + " " + side +
      '" shape-rendering="crispEdges"><rect width="' + side + '" height="' + side +
      '" fill="#fff"/><path fill="#000" d="' + qrPath(qr, size, 4) + '"/></svg>';
    return { version, size, svg };
  }

  /**
   * Draw `text`'s QR code into `target` (an element; its children are replaced by one
   * <svg>, sized by CSS). Returns {version, size, svg} (the <svg> element).
   */
  function drawQr(text, target, level) {
    const { qr, size, version } = qrSymbol(text, level);
    const doc = target.ownerDocument;
    const side = size + 8;
    const svg = doc.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 " + side + " " + side);
    svg.setAttribute("shape-rendering", "crispEdges");
    svg.setAttribute("data-qr-version", String(version));
    const rect = doc.createElementNS(SVG_NS, "rect");
    rect.setAttribute("width", String(side));
    rect.setAttribute("height", String(side));
    rect.setAttribute("fill", "#fff");
    const path = doc.createElementNS(SVG_NS, "path");
    path.setAttribute("fill", "#000");
    path.setAttribute("d", qrPath(qr, size, 4));
    svg.appendChild(rect);
    svg.appendChild(path);
    target.replaceChildren(svg);
    return { version, size, svg };
  }

  /** True where this library can work: WebCrypto in a secure context, and both vendors. */
  function supported() {
    return Boolean(
      webcrypto && webcrypto.subtle && typeof TextEncoder === "function" && pako && qrcode
    );
  }

  return {
    VERSION,
    PREFIX,
    MAX_SET,
    MAX_COMPACT,
    MAX_PRESENTATION,
    MAX_SKELETON,
    MAX_CREDENTIAL,
    DICTIONARY,
    DICTIONARY_SHA256,
    DICTIONARY_V1,
    DICTIONARY_V1_SHA256,
    PresentError,
    b64urlEncode,
    b64urlDecode,
    segmentJson,
    b45encode,
    encodeCompact,
    parseHeld,
    chooseDisclosures,
    present,
    presentForScene,
    presentSet,
    presentSetForScene,
    presentWithLink,
    generateDeviceKey,
    qrSvg,
    drawQr,
    supported,
  };
});

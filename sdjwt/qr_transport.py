"""The compact QR transport: the same SD-JWT presentation, losslessly packed for a QR code.

A plain presentation of a resident ID card for the hotel scene is ~1,700 characters
(QR version 34 at level M). This transport carries exactly the same text in a
version-20 QR code: the verifier unpacks it and checks the identical compact SD-JWT
(signatures and ``sd_hash`` cover the exact characters, so the transform is exactly
invertible). The specification, with measured sizes, is in ``docs/formats.md``
("Compact QR transport").

Version 1::

    qr-text  = "EC1:" Base45(body)                     ; RFC 9285: QR alphanumeric mode
    body     = DEFLATE(skeleton, DICTIONARY) || tail   ; raw RFC 1951 stream, then raw bytes
    skeleton = varint(n) flags disclosure*n issuer-jwt [kb-jwt]
    flags    = 0x00 (no KB-JWT, text ends in "~") | 0x01 (KB-JWT present)
    jwt      = text(header) text(payload) varint(len(signature))   ; signature -> tail
    text     = varint(len(packed)) packed

Every segment is carried as its base64url *decoding*; the decoder re-encodes it as
canonical unpadded base64url (the encoder refuses non-canonical input, so this is
exact). Note the order: the ``n`` disclosures come first, then the issuer-signed
JWT, then the KB-JWT, so that references below always point backwards.

``packed`` is a segment's bytes (JSON in practice) with ``0x00`` as an escape:

* ``00 00``: one literal ``0x00`` byte;
* ``00 k`` (1 ≤ k ≤ 239): the base64url text of the next ``k`` bytes of the tail;
* ``00 F0 varint(j)``: the base64url SHA-256 of the text of disclosure ``j``
  (0-based), i.e. its RFC 9901 digest (in the JWTs only, not in disclosures);
* ``00 F1``: the KB-JWT ``sd_hash``, the base64url SHA-256 of the presentation up to
  and including the ``~`` before the KB-JWT (only once the KB-JWT is reached);
* any other ``00 xx``: an error.

The encoder lifts out the whole content of a JSON string that is canonical
base64url of at least 22 characters (16 bytes: salts, digests, key coordinates,
nonces, ``kid``) and at most 239 bytes; a digest of a disclosure that is present,
and the ``sd_hash``, become references. ``varint`` is unsigned LEB128 of at most
3 bytes. The tail is read in the order the decoder meets tokens and signatures and
must be used up exactly; the DEFLATE stream must end (final block) before the tail.
``DICTIONARY_V1`` is the preset dictionary (zlib ``zdict``) below, frozen for version 1
(SHA-256 ``DICTIONARY_V1_SHA256``).

Version 2 (what the encoder writes) carries one presentation or a set of them::

    qr-text  = "EC2:" Base45(body)                     ; body as in version 1, with
    skeleton = m presentation*m                        ; DICTIONARY_V2
    m        = one byte, 1 to MAX_SET
    presentation = varint(n) flags disclosure*n issuer-jwt [kb-jwt]   ; as version 1's

Each presentation is coded exactly as in version 1; its references name its own
disclosures and its own ``sd_hash`` only. All members share one DEFLATE stream and one
tail, so later members compress against earlier ones. ``m = 1`` decodes to the
presentation itself; ``m >= 2`` to the plain set text ``'["' + '","'.join(members) +
'"]'`` (a JSON array without spaces), the only array form the encoder takes.

Why: random bytes (digests, salts, signatures) do not compress, so they travel raw
outside DEFLATE instead of as base64url text inside it; the JSON around them does
compress, and the dictionary holds what SD-JWT VCs, key-binding JWTs and our
catalogue repeat; digests of the disclosed claims and ``sd_hash`` are recomputed.

The prefix is QR alphanumeric and its digit is the format version: ``is_compact``
recognises any ``EC<digits>:`` prefix and ``decode_compact`` reads each version with
its own frozen dictionary (``DICTIONARIES``) and refuses versions it does not know.
Limits: a compact text of at most ``MAX_COMPACT`` characters, a skeleton of at most
``MAX_SKELETON`` bytes (inflating stops there, so a DEFLATE bomb costs no more than
that), at most ``MAX_SET`` presentations, and a presentation (or set text) of at most
``MAX_PRESENTATION`` characters in all. Pure functions, no I/O.
"""

from __future__ import annotations

import re
import zlib
from binascii import b2a_base64
from collections.abc import Mapping
from hashlib import sha256
from types import MappingProxyType

from keys.b64 import b64url_decode_segment
from keys.errors import FormatError

__all__ = [
    "DICTIONARIES",
    "DICTIONARY",
    "DICTIONARY_SHA256",
    "DICTIONARY_V1",
    "DICTIONARY_V1_SHA256",
    "DICTIONARY_V2",
    "DICTIONARY_V2_SHA256",
    "MAX_COMPACT",
    "MAX_PRESENTATION",
    "MAX_SET",
    "MAX_SKELETON",
    "PREFIX",
    "PREFIX_V1",
    "VERSION",
    "b45decode",
    "b45encode",
    "decode_compact",
    "decode_compact_ascii",
    "encode_compact",
    "is_compact",
]

#: The version the encoder writes.
VERSION = 2
#: What every compact text the encoder writes starts with (QR alphanumeric characters only).
PREFIX = "EC2:"
#: What a version-1 compact text starts with (still decoded: old QR codes keep verifying).
PREFIX_V1 = "EC1:"
#: Most presentations in one compact text (version 2), as ``keys.trustlist.MAX_SET``.
MAX_SET = 4
#: Largest compact text accepted, in characters (a version-40 QR holds 4,296).
MAX_COMPACT = 8 * 1024
#: Largest presentation carried, in characters (the verifier's own default limit).
MAX_PRESENTATION = 16 * 1024
#: Largest decompressed skeleton, in bytes.
MAX_SKELETON = 16 * 1024

#: Shortest base64url string content lifted out of the JSON (16 bytes: a salt).
MIN_TOKEN_CHARS = 22
#: Longest run lifted out, in bytes (escape codes above it have other meanings).
MAX_TOKEN_BYTES = 239
_ESC = 0x00
_DIGEST = 0xF0
_SD_HASH = 0xF1
_TOKEN = re.compile(rb'(?<=")[A-Za-z0-9_-]{%d,320}(?=")' % MIN_TOKEN_CHARS)
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_PREFIX_RE = re.compile(r"EC([0-9]{1,3}):")
_SD_JWT_CHARS = re.compile(r"[A-Za-z0-9_.~-]+")
_TO_URL = bytes.maketrans(b"+/", b"-_")

# -- the preset dictionary of version 1 (frozen) ---------------------------------------------
#
# Fragments of JSON as it appears in the skeleton (lifted-out strings are "\0\x10" for
# 16 bytes, "\0\x20" for 32), the most frequent last (DEFLATE distances are shorter).
_T16 = b"\x00\x10"
_T32 = b"\x00\x20"
_REF0, _REF1, _REF2 = b"\x00\xf0\x00", b"\x00\xf0\x01", b"\x00\xf0\x02"
_SD_HASH_REF = b"\x00\xf1"
_CLAIM_NAMES = (
    b"unified_social_credit_code,entity_type,legal_representative,registered_capital,"
    b"establishment_date,business_term_until,business_scope,subject_name,"
    b"subject_id_number,relative_name,relative_id_number,relationship,evidence_basis,"
    b"proof_number,no_criminal_record,period_from,period_until,purpose,co_ownership,"
    b"location,unit_number,right_type,right_nature,usage,land_area,building_area,"
    b"land_use_until,other_rights,birth_time,gestational_weeks,birth_weight_grams,"
    b"birth_length_cm,mother_name,mother_nationality,mother_ethnicity,mother_id_number,"
    b"father_name,father_nationality,father_ethnicity,father_id_number,"
    b"medical_institution,spouse_name,spouse_sex,spouse_nationality,spouse_birth_date,"
    b"spouse_id_number,certificate_number,household_number,household_type,"
    b"head_of_household_name,relationship_to_head,birth_place,native_place,education,"
    b"marital_status,registration_authority,registration_date,household_address,"
    b"residence_address,plate_number,vehicle_type,use_character,model,vin,engine_number,"
    b"approved_passengers,inspection_valid_until,card_number,disability_category,"
    b"disability_level,guardian_name,nationality,first_issue_date,licence_class,"
    b"file_number,issue_date,photo_digest,valid_until,valid_from,issuing_authority,"
    b"address,birth_date,ethnicity,sex,id_number,name"
).split(b",")
_VCT_SLUGS = (
    b"no-criminal-record-proof,kinship-proof,business-licence,real-estate-certificate,"
    b"disability-certificate,social-security-card,birth-medical-certificate,"
    b"marriage-certificate,household-register,vehicle-licence,driving-licence,"
    b"residence-permit"
).split(b",")
_SCENES = b"school,pharmacy,internet_cafe,hospital,bank"
_SD_ARRAY = b'","'.join([_T32, _REF0, _REF1, _T32, _REF2])
DICTIONARY_V1: bytes = b"".join(
    [
        b'"' + b'","'.join(b"urn:ecert:" + slug for slug in _VCT_SLUGS) + b'"',
        b'"' + _SCENES.replace(b",", b'","') + b'"',
        b'["' + _T16 + b'","' + b'","'.join(_CLAIM_NAMES) + b'","',
        b'{"kty":"OKP","crv":"Ed25519","x":"' + _T32 + b'"}',
        b'{"alg":"EdDSA","typ":"kb+jwt"}{"alg":"EdDSA","kid":"' + _T32 + b'","typ":"dc+sd-jwt"}',
        b'{"iss":"https:///issuers/","iat":1,"exp":2,"vct":"urn:ecert:resident-id-card",',
        b'"_sd":["' + _SD_ARRAY + b'"],"_sd_alg":"sha-256",',
        b'"cnf":{"jwk":{"kty":"EC","crv":"P-256","x":"' + _T32 + b'","y":"' + _T32 + b'"}},',
        b'"status":{"status_list":{"idx":1,"uri":"https:///issuers//status/1"}}}',
        b'{"alg":"ES256","kid":"' + _T32 + b'","typ":"dc+sd-jwt"}',
        b'["' + _T16 + b'","name","',
        b'"]{"alg":"ES256","typ":"kb+jwt"}',
        b'{"iat":1,"aud":"hotel","nonce":"' + _T16 + b'","sd_hash":"' + _SD_HASH_REF + b'"}',
    ]
)
DICTIONARY_V1_SHA256 = sha256(DICTIONARY_V1).hexdigest()

# -- the preset dictionary of version 2 (frozen) ---------------------------------------------
#
# What issue 12 added (scenes, departments, types, link and derived claims, enumerated
# values), then version 1's dictionary whole, in the same fragments as version 1 and
# again the most frequent last: a QR text has one scene id, one or two departments, one
# to four types, and many claim names.
_V2_SCENES = (
    b"hostel,homestay,vaccination,health_checkup,maternity_care,medical_insurance_settlement,"
    b"blood_donation,bank_counter,securities_account,insurance_claim,loan_application,"
    b"currency_exchange,lock_service,knife_purchase,train,air_travel,ferry,coach,car_rental,"
    b"elderly_transit,disability_transit,veteran_transit,vehicle_inspection_station,"
    b"parking_permit,kindergarten,university_enrolment,exam_admission,library_card,"
    b"tenancy_registration,notary,marriage_registration,divorce_registration,"
    b"real_estate_transaction,housing_purchase_eligibility,business_registration,"
    b"residence_permit_application,household_transfer,social_security_office,"
    b"provident_fund_office,pension_certification,elderly_allowance,disability_allowance,"
    b"veteran_services,funeral_arrangement,survivor_benefit,sim_card,broadband,"
    b"number_portability,express_delivery,freight_consignment,parcel_collection,pawnshop,"
    b"second_hand_phone,second_hand_car,prepaid_card_purchase,lottery_prize_claim,"
    b"museum_discount,scenic_spot_discount,scenic_spot_ticket,disability_admission,"
    b"student_discount,sports_venue,job_application,background_check,"
    b"employment_registration,security_guard_check,qualification_check"
).split(b",")
_V2_DEPARTMENTS = (
    b"disabled-persons-federation,housing-provident-fund,market-regulation,"
    b"natural-resources,taxation,veterans-affairs,human-resources,housing,education,"
    b"healthcare-security,health,civil-affairs,police"
).split(b",")
_V2_VCT_SLUGS = (
    b"death-medical-certificate,divorce-certificate,provident-fund-certificate,"
    b"security-guard-licence,student-card,tax-payment-certificate,tenancy-registration,"
    b"vaccination-record,vehicle-inspection,degree-certificate,education-certificate,"
    b"medical-insurance-card,professional-qualification,social-insurance-record,"
    b"veteran-preferential-card,elderly-preferential-card,hk-macao-travel-permit,"
    b"taiwan-travel-permit,passport,care-authorisation,guardianship,residence-attestation,"
    b"age-attestation"
).split(b",")
#: Enumerated and recurring values, as JSON (UTF-8).
_V2_VALUES = '"legal_guardian","father","mother","长期","男","女"'.encode()
_V2_CLAIM_NAMES = (
    b"death_place,employer,has_arrears,inspection_date,insured_since,landlord_name,"
    b"lease_from,monthly_deposit_yuan,paid_from,passport_number,qualification_level,"
    b"registration_number,student_number,tax_type,vaccination_unit,batch_number,"
    b"account_status,death_date,degree_name,dose_number,enrolment_date,insured_region,"
    b"major,paid_until,permit_number,tax_paid_yuan,tax_year,vaccination_date,vaccine_name,"
    b"award_date,degree_level,education_level,graduation_date,payment_status,"
    b"qualification_name,holder_category,months_paid,insurance_type,institution,portrait,"
    b"ward_birth_date,ward_id_number,guardian_id_number,principal_id_number,"
    b"carer_id_number,scenes,carer_name,principal_name,ward_name,relationship,"
    b"guardian_name,city,resident_of_city,age_over_14,age_over_16,age_over_60,"
    b"age_over_65,age_over_18"
).split(b",")
DICTIONARY_V2: bytes = b"".join(
    [
        b'"' + b'","'.join(_V2_SCENES) + b'"',
        b'"' + b'","'.join(b"/issuers/" + d + b"/status/" for d in _V2_DEPARTMENTS) + b'"',
        b'"' + b'","'.join(b"urn:ecert:" + slug for slug in _V2_VCT_SLUGS) + b'"',
        _V2_VALUES,
        b'["' + _T16 + b'","' + b'","'.join(_V2_CLAIM_NAMES) + b'",true]',
        DICTIONARY_V1,
    ]
)
DICTIONARY_V2_SHA256 = sha256(DICTIONARY_V2).hexdigest()

#: Every version's frozen dictionary: a compact text is read with its own version's.
DICTIONARIES: Mapping[int, bytes] = MappingProxyType({1: DICTIONARY_V1, 2: DICTIONARY_V2})
_VERSIONS: Mapping[str, int] = MappingProxyType({f"EC{v}:": v for v in DICTIONARIES})
#: The dictionary of the version the encoder writes.
DICTIONARY = DICTIONARIES[VERSION]
DICTIONARY_SHA256 = sha256(DICTIONARY).hexdigest()

# -- Base45 (RFC 9285) ------------------------------------------------------------------------

_B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
#: Base45 character (as a byte) -> its value; every other byte -> 0xFF.
_B45_VALUES = bytes(_B45.find(chr(b)) & 0xFF if chr(b) in _B45 else 0xFF for b in range(256))
#: The low byte of every 3-byte group, for a compact text of the largest size.
_LOW_BYTES_SIZE = MAX_COMPACT - MAX_COMPACT % 3
_LOW_BYTES = int.from_bytes(b"\x00\x00\xff" * (_LOW_BYTES_SIZE // 3), "big")


def b45encode(data: bytes) -> str:
    """Base45 text of ``data`` (RFC 9285 §4)."""
    out: list[str] = []
    append = out.append
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        append(_B45[c] + _B45[d] + _B45[e])
    if len(data) % 2:
        e, c = divmod(data[-1], 45)
        append(_B45[c] + _B45[e])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Decode Base45 text strictly (RFC 9285 §4.2). Raises :class:`FormatError`.

    Refused, in this order: a length of 3k + 1, a character outside the alphabet, a
    group of three over 65535 or a final group of two over 255. The work is done in
    bulk: one ``translate`` to character values, read as one big integer whose 3-byte
    "digits" are the groups ``(c, d, e)``; masks and shifts split it into three integers
    of digits ``c``, ``d`` and ``e``, and ``c + 45 d + 2025 e`` computes every group at
    once (no carries: a group is at most 91,124 < 2**24). Strided slices then check the
    top byte of each group and interleave the two low ones.
    """
    size = len(text)
    if size % 3 == 1:
        raise FormatError("Base45 text has an impossible length")
    try:
        values = text.encode("ascii").translate(_B45_VALUES)
    except UnicodeEncodeError:
        raise FormatError("a character is outside the Base45 alphabet") from None
    if b"\xff" in values:
        raise FormatError("a character is outside the Base45 alphabet")
    whole = size - size % 3
    groups = whole // 3
    x = int.from_bytes(values[:whole], "big")
    if whole <= _LOW_BYTES_SIZE:
        low = _LOW_BYTES >> (8 * (_LOW_BYTES_SIZE - whole))
    else:
        low = int.from_bytes(b"\x00\x00\xff" * groups, "big")
    n = (((x >> 16) & low) + 45 * ((x >> 8) & low) + 2025 * (x & low)).to_bytes(whole, "big")
    if n[0::3].count(0) != groups:  # a group's third byte: the group is over 65535
        raise FormatError("a Base45 group is out of range")
    out = bytearray(groups * 2 + (size - whole) // 2)
    out[0 : 2 * groups : 2] = n[1::3]
    out[1 : 2 * groups : 2] = n[2::3]
    if whole < size:
        last = values[whole] + values[whole + 1] * 45
        if last > 0xFF:
            raise FormatError("a Base45 group is out of range")
        out[-1] = last
    return bytes(out)


# -- encoding -----------------------------------------------------------------------------------


def is_compact(text: str | bytes) -> bool:
    """True if ``text`` starts like a compact QR text of any version (``EC<n>:``)."""
    if not isinstance(text, str | bytes):
        return False
    head = text[:6]
    if head[:2] != ("EC" if isinstance(head, str) else b"EC"):  # a plain SD-JWT: "eyJ…"
        return False
    if isinstance(head, bytes):
        try:
            head = head.decode("ascii")
        except UnicodeDecodeError:
            return False
    return _PREFIX_RE.match(head) is not None


def encode_compact(text: str, *, version: int = VERSION) -> str:
    """The compact QR text of an SD-JWT or SD-JWT+KB (``jwt~d1~…~[kb]``), or of a set.

    A set is the plain set text: a JSON array of 2 to ``MAX_SET`` presentations written
    without spaces (``["…","…"]``); only version 2 carries one. ``version`` 1 writes the
    old ``EC1:`` text (kept for tests and for readers not yet updated).

    Raises :class:`FormatError` for text that is not an SD-JWT in compact
    serialisation with canonical base64url segments (or a set of them written
    exactly so), or that is too large.
    """
    if not isinstance(text, str):
        raise FormatError("the presentation must be text")
    if len(text) > MAX_PRESENTATION:
        raise FormatError("the presentation is too large")
    dictionary = DICTIONARIES.get(version)
    if dictionary is None:
        raise FormatError("unsupported compact QR transport version")
    packer = _Packer()
    if version == 1:
        packer.presentation(text)
    else:
        members = _members(text)
        packer.skeleton.append(len(members))
        for member in members:
            packer.presentation(member)
    if len(packer.skeleton) > MAX_SKELETON:
        raise FormatError("the presentation is too large for the compact QR transport")
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, dictionary)
    body = deflate.compress(bytes(packer.skeleton)) + deflate.flush() + bytes(packer.tail)
    compact = f"EC{version}:" + b45encode(body)
    if len(compact) > MAX_COMPACT:
        raise FormatError("the presentation is too large for the compact QR transport")
    return compact


def _members(text: str) -> list[str]:
    """The presentations of a text: itself, or the members of the plain set text.

    The set text is exactly ``'["' + '","'.join(members) + '"]'`` with 2 to ``MAX_SET``
    members made only of SD-JWT characters, which is what ``json.dumps(members,
    separators=(",", ":"))`` writes for them: any other array form (spaces, escapes,
    one member, other JSON) is refused, so that decoding gives back the same text.
    """
    if not text.startswith("["):
        return [text]
    if not (text.startswith('["') and text.endswith('"]')) or len(text) < 4:
        raise FormatError("a set presentation must be a JSON array of strings without spaces")
    members = text[2:-2].split('","')
    if not 2 <= len(members) <= MAX_SET:
        raise FormatError(f"a set presentation holds 2 to {MAX_SET} presentations")
    for member in members:
        if _SD_JWT_CHARS.fullmatch(member) is None:
            raise FormatError("a set presentation must be a JSON array of strings without spaces")
    return members


def _segment_bytes(segment: str) -> bytes:
    if not segment or _B64URL.fullmatch(segment) is None:
        raise FormatError("a segment is empty or not base64url")
    return b64url_decode_segment(segment.encode("ascii"))  # refuses non-canonical text


class _Packer:
    __slots__ = ("digests", "sd_hash", "skeleton", "tail")

    def __init__(self) -> None:
        self.skeleton = bytearray()
        self.tail = bytearray()
        #: SHA-256 of each disclosure's text -> its index (the first, if repeated)
        self.digests: dict[bytes, int] = {}
        self.sd_hash: bytes | None = None

    def presentation(self, presentation: str) -> None:
        """One presentation's skeleton and tail; references only within it."""
        parts = presentation.split("~")
        if len(parts) < 2:
            raise FormatError("not an SD-JWT presentation (compact serialization)")
        issuer_jwt, disclosures, kb_jwt = parts[0], parts[1:-1], parts[-1]
        self.digests = {}
        self.sd_hash = None
        self.skeleton += _varint(len(disclosures))
        self.skeleton.append(1 if kb_jwt else 0)
        for disclosure in disclosures:
            if "." in disclosure:
                raise FormatError("a disclosure is not one base64url segment")
            self.text(_segment_bytes(disclosure))
        # references to disclosures only from the JWTs after them, never between disclosures
        for j, disclosure in enumerate(disclosures):
            self.digests.setdefault(sha256(disclosure.encode("ascii")).digest(), j)
        self.jwt(issuer_jwt)
        if kb_jwt:
            prefix = presentation[: len(presentation) - len(kb_jwt)]
            self.sd_hash = sha256(prefix.encode()).digest()
            self.jwt(kb_jwt)

    def jwt(self, jwt: str) -> None:
        pieces = jwt.split(".")
        if len(pieces) != 3:
            raise FormatError("a JWT is not three base64url segments")
        header, payload, signature = (_segment_bytes(p) for p in pieces)
        self.text(header)
        self.text(payload)
        self.skeleton += _varint(len(signature))
        self.tail += signature

    def text(self, data: bytes) -> None:
        packed = bytearray()
        start = 0
        for match in _TOKEN.finditer(data):
            run = match.group()
            if len(run) % 4 == 1:
                continue
            try:
                raw = b64url_decode_segment(run)
            except FormatError:
                continue  # not canonical: it stays text
            if len(raw) > MAX_TOKEN_BYTES:
                continue
            packed += _escape(data[start : match.start()])
            start = match.end()
            j = self.digests.get(raw)
            if j is not None:
                packed += bytes((_ESC, _DIGEST)) + _varint(j)
            elif raw == self.sd_hash:
                packed += bytes((_ESC, _SD_HASH))
            else:
                packed += bytes((_ESC, len(raw)))
                self.tail += raw
        packed += _escape(data[start:])
        self.skeleton += _varint(len(packed))
        self.skeleton += packed


def _escape(data: bytes) -> bytes:
    return data.replace(b"\x00", b"\x00\x00")


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


# -- decoding -----------------------------------------------------------------------------------


def decode_compact(text: str) -> str:
    """The SD-JWT presentation that a compact QR text carries, exactly.

    Raises :class:`FormatError` for anything malformed: an unknown prefix or version,
    bad Base45, a truncated or oversized DEFLATE stream, a skeleton or tail that does
    not add up, or a result over the size limits.
    """
    return decode_compact_ascii(text).decode("ascii")


def decode_compact_ascii(text: str) -> bytes:
    """:func:`decode_compact` as ASCII bytes, what the verifier works on."""
    if not isinstance(text, str):
        raise FormatError("the compact QR text must be text")
    if len(text) > MAX_COMPACT:
        raise FormatError("the compact QR text is too large")
    match = _PREFIX_RE.match(text[:6])
    if match is None:
        raise FormatError("not a compact QR text")
    version = _VERSIONS.get(match.group())
    if version is None:
        raise FormatError("unsupported compact QR transport version")
    body = b45decode(text[len(match.group()) :])
    inflate = zlib.decompressobj(-15, DICTIONARIES[version])  # inflated once, bounded
    try:
        skeleton = inflate.decompress(body, MAX_SKELETON + 1)
    except zlib.error:
        raise FormatError("the compact QR data is not a valid DEFLATE stream") from None
    if len(skeleton) > MAX_SKELETON:
        raise FormatError("the compact QR data expands beyond the limit")
    if not inflate.eof:
        raise FormatError("the compact QR data is truncated")
    unpacker = _Unpacker(skeleton, inflate.unused_data)
    return unpacker.presentation() if version == 1 else unpacker.members()


class _Unpacker:
    """Reads the skeleton front to back and the tail in step with it, in bytes."""

    __slots__ = ("digests", "pos", "sd_hash", "size", "skeleton", "tail", "tail_pos")

    def __init__(self, skeleton: bytes, tail: bytes) -> None:
        self.skeleton = skeleton
        self.pos = 0
        self.tail = tail
        self.tail_pos = 0
        self.size = 0  # characters produced so far, all members together
        self.digests: list[bytes] | None = None
        self.sd_hash: bytes | None = None

    def presentation(self) -> bytes:
        """Version 1: the skeleton is one presentation."""
        presentation = self._member()
        self._used_up()
        if len(presentation) > MAX_PRESENTATION:
            raise FormatError("the presentation is too large")
        return presentation

    def members(self) -> bytes:
        """Version 2: a count m (1 to MAX_SET), then m presentations; m = 1 gives the
        presentation itself, m >= 2 the plain set text ``["p1","p2",…]``."""
        if not self.skeleton:
            raise FormatError("the compact QR data is truncated")
        m = self.skeleton[0]
        self.pos = 1
        if not 1 <= m <= MAX_SET:
            raise FormatError("the compact QR data holds an unsupported number of presentations")
        members = [self._member() for _ in range(m)]
        self._used_up()
        text = members[0] if m == 1 else b'["' + b'","'.join(members) + b'"]'
        if len(text) > MAX_PRESENTATION:
            raise FormatError("the presentation is too large")
        return text

    def _used_up(self) -> None:
        if self.pos != len(self.skeleton) or self.tail_pos != len(self.tail):
            raise FormatError("the compact QR data has bytes left over")

    def _member(self) -> bytes:
        """One presentation; its references name its own disclosures and sd_hash only."""
        self.digests = None
        self.sd_hash = None
        n, self.pos = _read_varint(self.skeleton, self.pos)
        if self.pos >= len(self.skeleton):
            raise FormatError("the compact QR data is truncated")
        flags = self.skeleton[self.pos]
        self.pos += 1
        if flags > 1:
            raise FormatError("unknown flags in the compact QR data")
        disclosures = [self._text() for _ in range(n)]
        self.digests = [_b64(sha256(d).digest()) for d in disclosures]
        issuer_jwt = self._jwt()
        prefix = b"~".join([issuer_jwt, *disclosures, b""])
        kb_jwt = b""
        if flags:
            self.sd_hash = _b64(sha256(prefix).digest())
            kb_jwt = self._jwt()
        return prefix + kb_jwt

    def _jwt(self) -> bytes:
        header = self._text()
        payload = self._text()
        size, self.pos = _read_varint(self.skeleton, self.pos)
        signature = _b64(self._tail(size))
        self.size += len(signature) + 2
        return b".".join((header, payload, signature))

    def _text(self) -> bytes:
        """One segment: its packed bytes unescaped, then encoded as base64url.

        One pass over the segment: ``find`` jumps from escape to escape, the JSON between
        them is taken in whole slices, and the pieces are joined once (the verify path is
        measured, and every large intermediate object costs there).
        """
        skeleton = self.skeleton
        start = self.pos
        if start < len(skeleton) and skeleton[start] < 0x80:  # a length under 128: one byte
            size = skeleton[start]
            start += 1
        else:
            size, start = _read_varint(skeleton, start)
        self.pos = end = start + size
        if end > len(skeleton):
            raise FormatError("the compact QR data is truncated")
        esc = skeleton.find(0, start, end)
        if esc < 0:  # no escape: the segment's bytes as they are
            text = _b64(skeleton[start:end])
        else:
            pieces: list[bytes] = []
            append = pieces.append
            tail, tail_pos = self.tail, self.tail_pos
            grown = 0  # characters that references added (tokens are bounded by the tail)
            while esc >= 0:
                append(skeleton[start:esc])
                if esc + 1 >= end:
                    raise FormatError("the compact QR data ends inside an escape")
                code = skeleton[esc + 1]
                start = esc + 2
                if code == 0:
                    append(b"\x00")
                elif code <= MAX_TOKEN_BYTES:  # the base64url text of the next bytes of the tail
                    stop = tail_pos + code
                    if stop > len(tail):
                        raise FormatError("the compact QR data is truncated")
                    append(_b64(tail[tail_pos:stop]))
                    tail_pos = stop
                else:
                    # a reference: 43 characters from two or three bytes, so counted here
                    if code == _DIGEST and self.digests is not None:
                        j, start = _read_varint(skeleton, start, end)
                        if j >= len(self.digests):
                            raise FormatError("a digest reference names no disclosure")
                        append(self.digests[j])
                    elif code == _SD_HASH and self.sd_hash is not None:
                        append(self.sd_hash)
                    else:
                        raise FormatError("an unknown escape in the compact QR data")
                    grown += 43
                    if grown > MAX_PRESENTATION:
                        raise FormatError("the presentation is too large")
                esc = skeleton.find(0, start, end)
            append(skeleton[start:end])
            self.tail_pos = tail_pos
            text = _b64(b"".join(pieces))
        self.size += len(text) + 1
        if self.size > MAX_PRESENTATION:
            raise FormatError("the presentation is too large")
        return text

    def _tail(self, n: int) -> bytes:
        start = self.tail_pos
        self.tail_pos = end = start + n
        if end > len(self.tail):
            raise FormatError("the compact QR data is truncated")
        return self.tail[start:end]


def _read_varint(data: bytes, pos: int, end: int | None = None) -> tuple[int, int]:
    """An unsigned LEB128 number of at most 3 bytes at ``pos``, before ``end`` (default:
    the end of ``data``); returns it and the next pos."""
    value = 0
    stop = len(data) if end is None else end
    for shift in (0, 7, 14):
        if pos >= stop:
            raise FormatError("the compact QR data is truncated")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
    raise FormatError("a length in the compact QR data is too large")


def _b64(data: bytes | bytearray) -> bytes:
    """Canonical unpadded base64url of ``data`` (never empty), as ASCII bytes."""
    if not data:
        raise FormatError("an empty segment in the compact QR data")
    return b2a_base64(data, newline=False).translate(_TO_URL).rstrip(b"=")

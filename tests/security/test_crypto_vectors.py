"""The SQL crypto building blocks in backroom_private (migration 0008) against
published vectors (FIPS 180, RFC 2202, 4231, 4226, 6238, 7914, 4648) and
against Python's own implementations, and out of the console role's reach."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from collections.abc import AsyncIterator

import asyncpg
import pyotp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.fixture
async def owner(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(dsn)
    yield conn
    await conn.close()


async def sha1(conn: asyncpg.Connection, data: bytes) -> str:
    digest: bytes = await conn.fetchval("select backroom_private.sha1($1)", data)
    return digest.hex()


async def hmac_sql(conn: asyncpg.Connection, key: bytes, message: bytes, algorithm: str) -> str:
    digest: bytes = await conn.fetchval("select backroom_private.hmac($1, $2, $3)", key, message, algorithm)
    return digest.hex()


# --- SHA-1 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "digest"),
    [
        (b"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
        ),
        (b"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        (
            b"0123456701234567012345670123456701234567012345670123456701234567" * 10,
            "dea356a2cddd90c7a7ecedc5ebb563934f460452",
        ),  # RFC 3174 test 4
    ],
)
async def test_sha1_known_vectors(owner: asyncpg.Connection, message: bytes, digest: str) -> None:
    assert await sha1(owner, message) == digest


async def test_sha1_of_a_million_as(owner: asyncpg.Connection) -> None:
    assert await sha1(owner, b"a" * 1_000_000) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f"


async def test_sha1_every_length_up_to_300(owner: asyncpg.Connection) -> None:
    # Every length, so each padding case (55, 56, 63, 64, 119, 120 ...) is met.
    rng = random.Random(20261120)
    messages = [rng.randbytes(n) for n in range(301)]
    got = await owner.fetch(
        "select backroom_private.sha1(m) as d from unnest($1::bytea[]) with ordinality as x(m, n) order by n",
        messages,
    )
    assert [r["d"] for r in got] == [hashlib.sha1(m).digest() for m in messages]


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.binary(max_size=300))
async def test_sha1_matches_hashlib(owner: asyncpg.Connection, data: bytes) -> None:
    assert await sha1(owner, data) == hashlib.sha1(data).hexdigest()


# --- HMAC --------------------------------------------------------------------

RFC_2202 = [  # HMAC-SHA-1, test cases 1-7
    (b"\x0b" * 20, b"Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"),
    (b"Jefe", b"what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
    (b"\xaa" * 20, b"\xdd" * 50, "125d7342b9ac11cd91a39af48aa17b4f63f175d3"),
    (bytes(range(1, 26)), b"\xcd" * 50, "4c9007f4026250c6bc8414f9bf50c86c2d7235da"),
    (b"\x0c" * 20, b"Test With Truncation", "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04"),
    (
        b"\xaa" * 80,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "aa4ae5e15272d00e95705637ce8a3b55ed402112",
    ),
    (
        b"\xaa" * 80,
        b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
        "e8e99d0f45237d786d6bbaa7965c7808bbff1a91",
    ),
]

RFC_4231 = [  # HMAC-SHA-256, test cases 1-4, 6, 7 (5 is about truncated output)
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (b"\xaa" * 20, b"\xdd" * 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (bytes(range(1, 26)), b"\xcd" * 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    (
        b"\xaa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
    (
        b"\xaa" * 131,
        b"This is a test using a larger than block-size key and a larger than block-size data."
        b" The key needs to be hashed before being used by the HMAC algorithm.",
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ),
]


@pytest.mark.parametrize(("key", "message", "digest"), RFC_2202)
async def test_hmac_sha1_rfc2202(owner: asyncpg.Connection, key: bytes, message: bytes, digest: str) -> None:
    assert await hmac_sql(owner, key, message, "sha1") == digest


@pytest.mark.parametrize(("key", "message", "digest"), RFC_4231)
async def test_hmac_sha256_rfc4231(
    owner: asyncpg.Connection, key: bytes, message: bytes, digest: str
) -> None:
    assert await hmac_sql(owner, key, message, "sha256") == digest


async def test_hmac_matches_python_around_the_block_size(owner: asyncpg.Connection) -> None:
    rng = random.Random(4231)
    for algorithm in ("sha1", "sha256"):
        for key_length in (0, 1, 63, 64, 65, 200):
            key, message = rng.randbytes(key_length), rng.randbytes(rng.randrange(0, 200))
            expected = hmac.new(key, message, algorithm).hexdigest()
            assert await hmac_sql(owner, key, message, algorithm) == expected, (algorithm, key_length)


async def test_hmac_refuses_other_algorithms(owner: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.InvalidParameterValueError, match="unsupported algorithm"):
        await hmac_sql(owner, b"k", b"m", "md5")


# --- HOTP and TOTP -----------------------------------------------------------

RFC_4226_SECRET = b"12345678901234567890"


async def test_hotp_rfc4226_appendix_d(owner: asyncpg.Connection) -> None:
    expected = [
        "755224",
        "287082",
        "359152",
        "969429",
        "338314",
        "254676",
        "287922",
        "162583",
        "399871",
        "520489",
    ]
    got = [
        await owner.fetchval("select backroom_private.hotp($1, $2)", RFC_4226_SECRET, count)
        for count in range(10)
    ]
    assert got == expected


@pytest.mark.parametrize(
    ("unix_time", "code"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
async def test_totp_rfc6238_appendix_b_sha1(owner: asyncpg.Connection, unix_time: int, code: str) -> None:
    assert (
        await owner.fetchval("select backroom_private.totp_at($1, $2, 8)", RFC_4226_SECRET, unix_time // 30)
        == code
    )


async def test_totp_agrees_with_pyotp(owner: asyncpg.Connection) -> None:
    rng = random.Random(6238)
    for _ in range(40):
        secret = pyotp.random_base32()
        t = rng.randrange(0, 4_000_000_000)
        got = await owner.fetchval(
            "select backroom_private.totp_at(backroom_private.base32_decode($1), $2)", secret, t // 30
        )
        assert got == pyotp.TOTP(secret).at(t), (secret, t)


async def test_hotp_codes_keep_their_leading_zeros(owner: asyncpg.Connection) -> None:
    secret = base64.b32encode(RFC_4226_SECRET).decode()
    counter = next(c for c in range(10_000) if pyotp.HOTP(secret).at(c).startswith("0"))
    got = await owner.fetchval(
        "select backroom_private.hotp(backroom_private.base32_decode($1), $2)", secret, counter
    )
    assert got == pyotp.HOTP(secret).at(counter) and len(got) == 6


@pytest.mark.parametrize(("counter", "digits"), [(-1, 6), (0, 5), (0, 11)])
async def test_hotp_refuses_nonsense(owner: asyncpg.Connection, counter: int, digits: int) -> None:
    with pytest.raises(asyncpg.InvalidParameterValueError):
        await owner.fetchval("select backroom_private.hotp($1, $2, $3)", RFC_4226_SECRET, counter, digits)


# --- PBKDF2-HMAC-SHA-256 -----------------------------------------------------


@pytest.mark.parametrize(
    ("password", "salt", "iterations", "derived"),
    [
        (
            b"passwd",
            b"salt",
            1,
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
            "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783",
        ),
        (
            b"Password",
            b"NaCl",
            80000,
            "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
            "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d",
        ),
    ],
)
async def test_pbkdf2_sha256_rfc7914(
    owner: asyncpg.Connection, password: bytes, salt: bytes, iterations: int, derived: str
) -> None:
    got = await owner.fetchval(
        "select backroom_private.pbkdf2_sha256($1, $2, $3, 64)", password, salt, iterations
    )
    assert got.hex() == derived


async def test_pbkdf2_sha256_agrees_with_hashlib(owner: asyncpg.Connection) -> None:
    rng = random.Random(8018)
    cases = [
        (rng.randbytes(n), rng.randbytes(16), rng.randrange(1, 300), length)
        for n, length in ((0, 32), (8, 1), (20, 31), (64, 33), (65, 64), (100, 100))
    ]
    for password, salt, iterations, length in cases:
        got = await owner.fetchval(
            "select backroom_private.pbkdf2_sha256($1, $2, $3, $4)", password, salt, iterations, length
        )
        assert got == hashlib.pbkdf2_hmac("sha256", password, salt, iterations, length)
    default = await owner.fetchval("select backroom_private.pbkdf2_sha256('pw', 'salt', 10)")
    assert default == hashlib.pbkdf2_hmac("sha256", b"pw", b"salt", 10)


@pytest.mark.parametrize(("iterations", "length"), [(0, 32), (1, 0)])
async def test_pbkdf2_refuses_nonsense(owner: asyncpg.Connection, iterations: int, length: int) -> None:
    with pytest.raises(asyncpg.InvalidParameterValueError):
        await owner.fetchval(
            "select backroom_private.pbkdf2_sha256('pw', 'salt', $1, $2)", iterations, length
        )


# --- base32 ------------------------------------------------------------------


async def test_base32_decode_agrees_with_python(owner: asyncpg.Connection) -> None:
    for _ in range(30):
        secret = pyotp.random_base32()
        assert await owner.fetchval("select backroom_private.base32_decode($1)", secret) == base64.b32decode(
            secret
        )


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [  # RFC 4648 section 10
        ("", b""),
        ("MY======", b"f"),
        ("MZXQ====", b"fo"),
        ("MZXW6===", b"foo"),
        ("MZXW6YQ=", b"foob"),
        ("MZXW6YTB", b"fooba"),
        ("MZXW6YTBOI======", b"foobar"),
        ("mzxw 6ytb oi", b"foobar"),
        ("MZXW6YTBOI", b"foobar"),
        ("jbswy3dpehpk3pxp", b"Hello!\xde\xad\xbe\xef"),
    ],
)
async def test_base32_decode_rfc4648(owner: asyncpg.Connection, encoded: str, decoded: bytes) -> None:
    assert await owner.fetchval("select backroom_private.base32_decode($1)", encoded) == decoded


@pytest.mark.parametrize("encoded", ["MZXW1YTB", "M", "MZX", "MZXW6Y", "MZ=XW6YTB", "MZXW6YTB!"])
async def test_base32_decode_refuses_what_is_not_base32(owner: asyncpg.Connection, encoded: str) -> None:
    with pytest.raises(asyncpg.InvalidParameterValueError, match="not base32"):
        await owner.fetchval("select backroom_private.base32_decode($1)", encoded)


# --- equal_digests -----------------------------------------------------------


async def test_equal_digests(owner: asyncpg.Connection) -> None:
    async def equal(a: bytes | None, b: bytes | None) -> bool | None:
        same: bool | None = await owner.fetchval("select backroom_private.equal_digests($1, $2)", a, b)
        return same

    assert await equal(b"same", b"same") is True
    assert await equal(b"", b"") is True
    assert await equal(b"same", b"samf") is False
    assert await equal(b"same", b"same\x00") is False
    assert await equal(b"same", None) is None


# --- Out of the console's reach ----------------------------------------------

CALLS = [
    "select backroom_private.sha1('abc')",
    "select backroom_private.hmac('k', 'm', 'sha256')",
    "select backroom_private.hotp('12345678901234567890', 0)",
    "select backroom_private.totp_at('12345678901234567890', 1)",
    "select backroom_private.pbkdf2_sha256('pw', 'salt', 1)",
    "select backroom_private.base32_decode('MZXW6YTB')",
    "select backroom_private.equal_digests('a', 'b')",
    "select backroom_private.xor_byte('a', 54)",
    "select backroom_private.hmac_block_key('k', 'sha1')",
    "select backroom_private.bits_to_bytea(repeat('0', 256)::bit(256))",
]


CRYPTO = {call.split("backroom_private.")[1].split("(")[0] for call in CALLS}


async def test_every_crypto_function_is_called_above(owner: asyncpg.Connection) -> None:
    names = {
        r["proname"]
        for r in await owner.fetch(
            "select proname from pg_proc where pronamespace = 'backroom_private'::regnamespace"
            " and provolatile = 'i' and proname not in ('email_hash', 'token_hash', 'b64url', 'sign_in_rules', 'answer_seconds')"
        )
    }
    assert names == CRYPTO


async def test_the_console_role_may_not_use_the_schema(owner: asyncpg.Connection) -> None:
    assert (
        await owner.fetchval("select has_schema_privilege('backroom_console', 'backroom_private', 'usage')")
        is False
    )
    for call in CALLS:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="schema backroom_private"):
            async with owner.transaction():
                await owner.execute("set local role backroom_console")
                await owner.fetchval(call)
    # The owner still can, and is itself again after each refusal.
    assert await owner.fetchval("select current_user") != "backroom_console"
    assert (await owner.fetchval("select backroom_private.sha1('abc')")).hex().startswith("a9993e36")


async def test_the_console_role_may_not_execute_them_even_with_the_schema(owner: asyncpg.Connection) -> None:
    # Two locks, not one: granting the schema by mistake later must not open the functions.
    tx = owner.transaction()
    await tx.start()
    try:
        await owner.execute("grant usage on schema backroom_private to backroom_console")
        for call in CALLS:
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for function"):
                async with owner.transaction():
                    await owner.execute("set local role backroom_console")
                    await owner.fetchval(call)
    finally:
        await tx.rollback()


async def test_only_the_owner_holds_any_right_on_them(owner: asyncpg.Connection) -> None:
    rows = await owner.fetch(
        "select p.oid::regprocedure::text as fn, p.proacl is null as default_acl,"
        " array(select a.grantee::regrole::text from aclexplode(p.proacl) a"
        "       where a.grantee <> p.proowner) as others,"
        " has_function_privilege('backroom_console', p.oid, 'execute') as console,"
        " p.provolatile::text, p.proisstrict, p.proparallel::text, p.prosecdef, p.proconfig"
        " from pg_proc p where p.pronamespace = 'backroom_private'::regnamespace"
    )
    assert len(rows) >= len(CALLS)
    for r in rows:
        assert not r["default_acl"], f"{r['fn']} keeps the default EXECUTE for PUBLIC"
        assert r["others"] == [], r["fn"]
        assert r["console"] is False, r["fn"]
        assert not r["prosecdef"], r["fn"]
        assert r["proconfig"][-1].endswith("pg_temp"), r["fn"]
        if r["fn"].split("backroom_private.")[1].split("(")[0] in CRYPTO:
            assert (r["provolatile"], r["proisstrict"], r["proparallel"]) == ("i", True, "s"), r["fn"]
            assert r["proconfig"] == ["search_path=pg_catalog, pg_temp"], r["fn"]

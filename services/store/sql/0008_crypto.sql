-- Cryptographic building blocks for checking staff sign-in inside Postgres:
-- SHA-1, HMAC, HOTP/TOTP, PBKDF2-HMAC-SHA256, base32.
--
-- Pure SQL and PL/pgSQL, because the embedded server's build has no pgcrypto
-- (only the built-in sha224/sha256/sha384/sha512/md5 on bytea). Nothing here
-- needs more than Postgres 11, so the same file serves Supabase.
--
-- Only the owner and its SECURITY DEFINER functions may call them: a console
-- has no use for them, and pbkdf2_sha256 with a huge count would let it burn
-- the server's CPU.

create schema if not exists backroom_private;
revoke all on schema backroom_private from public;

-- SHA-1 (FIPS 180-4). Only for TOTP, which authenticator apps still compute
-- with HMAC-SHA-1; nothing else should use it. Words are int8 masked to 32 bits.
create or replace function backroom_private.sha1(message bytea) returns bytea
language plpgsql immutable strict parallel safe
set search_path = pg_catalog, pg_temp
as $$
declare
    mask constant int8 := 4294967295;
    len int8 := length(message);
    m bytea;
    w int8[] := array_fill(0::int8, array[80]);
    h0 int8 := 1732584193;   -- 0x67452301
    h1 int8 := 4023233417;   -- 0xefcdab89
    h2 int8 := 2562383102;   -- 0x98badcfe
    h3 int8 := 271733878;    -- 0x10325476
    h4 int8 := 3285377520;   -- 0xc3d2e1f0
    a int8; b int8; c int8; d int8; e int8; t int8;
    p int;
    blocks int;
begin
    -- 0x80, zeros up to 56 mod 64, then the length in bits, big-endian.
    m := message || '\x80'::bytea
         || decode(repeat('00', ((55 - len % 64) + 64)::int % 64), 'hex')
         || int8send(len * 8);
    blocks := length(m) / 64;
    for blk in 0 .. blocks - 1 loop
        p := blk * 64;
        for i in 1 .. 16 loop
            w[i] := (get_byte(m, p)::int8 << 24) | (get_byte(m, p + 1)::int8 << 16)
                    | (get_byte(m, p + 2)::int8 << 8) | get_byte(m, p + 3)::int8;
            p := p + 4;
        end loop;
        for i in 17 .. 80 loop
            t := w[i - 3] # w[i - 8] # w[i - 14] # w[i - 16];
            w[i] := ((t << 1) | (t >> 31)) & mask;
        end loop;

        a := h0; b := h1; c := h2; d := h3; e := h4;
        for i in 1 .. 20 loop
            t := ((((a << 5) | (a >> 27)) & mask) + (d # (b & (c # d))) + e + 1518500249 + w[i]) & mask;
            e := d; d := c; c := ((b << 30) | (b >> 2)) & mask; b := a; a := t;
        end loop;
        for i in 21 .. 40 loop
            t := ((((a << 5) | (a >> 27)) & mask) + (b # c # d) + e + 1859775393 + w[i]) & mask;
            e := d; d := c; c := ((b << 30) | (b >> 2)) & mask; b := a; a := t;
        end loop;
        for i in 41 .. 60 loop
            t := ((((a << 5) | (a >> 27)) & mask) + ((b & c) | (d & (b | c))) + e + 2400959708 + w[i])
                 & mask;
            e := d; d := c; c := ((b << 30) | (b >> 2)) & mask; b := a; a := t;
        end loop;
        for i in 61 .. 80 loop
            t := ((((a << 5) | (a >> 27)) & mask) + (b # c # d) + e + 3395469782 + w[i]) & mask;
            e := d; d := c; c := ((b << 30) | (b >> 2)) & mask; b := a; a := t;
        end loop;

        h0 := (h0 + a) & mask; h1 := (h1 + b) & mask; h2 := (h2 + c) & mask;
        h3 := (h3 + d) & mask; h4 := (h4 + e) & mask;
    end loop;
    return substring(int8send(h0) from 5) || substring(int8send(h1) from 5)
        || substring(int8send(h2) from 5) || substring(int8send(h3) from 5)
        || substring(int8send(h4) from 5);
end
$$;

-- Every byte of data XORed with one byte; for the HMAC pads.
create or replace function backroom_private.xor_byte(data bytea, pad int) returns bytea
language plpgsql immutable strict parallel safe
set search_path = pg_catalog, pg_temp
as $$
declare
    result bytea := data;
begin
    for i in 0 .. length(data) - 1 loop
        result := set_byte(result, i, get_byte(data, i) # pad);
    end loop;
    return result;
end
$$;

-- The key for HMAC with a 64-byte block (SHA-1 and SHA-256): hashed if
-- longer than the block, then padded with zeros to it.
create or replace function backroom_private.hmac_block_key(key bytea, algorithm text) returns bytea
language plpgsql immutable strict parallel safe
set search_path = pg_catalog, pg_temp
as $$
begin
    if length(key) > 64 then
        key := case algorithm
                   when 'sha1' then backroom_private.sha1(key)
                   when 'sha256' then sha256(key)
               end;
    end if;
    return key || decode(repeat('00', 64 - length(key)), 'hex');
end
$$;

-- HMAC (RFC 2104) with SHA-1 or SHA-256.
create or replace function backroom_private.hmac(key bytea, message bytea, algorithm text) returns bytea
language plpgsql immutable strict parallel safe
set search_path = pg_catalog, pg_temp
as $$
declare
    k bytea;
begin
    if algorithm = 'sha1' then
        k := backroom_private.hmac_block_key(key, algorithm);
        return backroom_private.sha1(backroom_private.xor_byte(k, 92)
            || backroom_private.sha1(backroom_private.xor_byte(k, 54) || message));
    elsif algorithm = 'sha256' then
        k := backroom_private.hmac_block_key(key, algorithm);
        return sha256(backroom_private.xor_byte(k, 92)
            || sha256(backroom_private.xor_byte(k, 54) || message));
    end if;
    raise exception 'hmac: unsupported algorithm %', algorithm using errcode = 'invalid_parameter_value';
end
$$;

-- HOTP (RFC 4226): HMAC-SHA-1 of the 8-byte big-endian counter, dynamic
-- truncation to 31 bits, the last `digits` decimal digits, zero-padded.
create or replace function backroom_private.hotp(secret bytea, counter bigint, digits int default 6)
returns text
language plpgsql immutable strict parallel safe
set search_path = pg_catalog, pg_temp
as $$
declare
    h bytea;
    o int;
    code int8;
begin
    if counter < 0 then
        raise exception 'hotp: the counter must not be negative' using errcode = 'invalid_parameter_value';
    end if;
    if digits not between 6 and 10 then
        raise exception 'hotp: digits must be between 6 and 10' using errcode = 'invalid_parameter_value';
    end if;
    h := backroom_private.hmac(secret, int8send(counter), 'sha1');
    o := get_byte(h, 19) & 15;
    code := ((get_byte(h, o)::int8 & 127) << 24) | (get_byte(h, o + 1)::int8 << 16)
            | (get_byte(h, o + 2)::int8 << 8) | get_byte(h, o + 3)::int8;
    return lpad((code % (10::int8 ^ digits)::int8)::text, digits, '0');
end
$$;

-- TOTP (RFC 6238) for one time step. The caller computes the step (and tries
-- its neighbours for drift), so this stays immutable.
create or replace function backroom_private.totp_at(secret bytea, step bigint, digits int default 6)
returns text
language sql immutable strict parallel safe
set search_path = pg_catalog, pg_temp
as $$
    select backroom_private.hotp(secret, step, digits)
$$;

-- 256 bits as 32 bytes.
create or replace function backroom_private.bits_to_bytea(bits bit(256)) returns bytea
language sql immutable strict parallel safe
set search_path = pg_catalog, pg_temp
as $$
    select int8send(substring(bits from 1 for 64)::bit(64)::int8)
        || int8send(substring(bits from 65 for 64)::bit(64)::int8)
        || int8send(substring(bits from 129 for 64)::bit(64)::int8)
        || int8send(substring(bits from 193 for 64)::bit(64)::int8)
$$;

-- PBKDF2 (RFC 8018) with HMAC-SHA-256. The padded keys are computed once and
-- the running XOR is kept as bit(256), so each iteration is two built-in
-- sha256 calls and one XOR.
create or replace function backroom_private.pbkdf2_sha256(password bytea, salt bytea, iterations int,
                                                          length int default 32)
returns bytea
language plpgsql immutable strict parallel safe
set search_path = pg_catalog, pg_temp
as $$
declare
    k bytea;
    ikey bytea;
    okey bytea;
    u bytea;
    t bit(256);
    result bytea := '';
begin
    if iterations < 1 then
        raise exception 'pbkdf2: iterations must be at least 1' using errcode = 'invalid_parameter_value';
    end if;
    if length < 1 then
        raise exception 'pbkdf2: length must be at least 1' using errcode = 'invalid_parameter_value';
    end if;
    k := backroom_private.hmac_block_key(password, 'sha256');
    ikey := backroom_private.xor_byte(k, 54);
    okey := backroom_private.xor_byte(k, 92);
    for blk in 1 .. (length + 31) / 32 loop
        u := sha256(okey || sha256(ikey || salt || int4send(blk)));
        t := ('x' || encode(u, 'hex'))::bit(256);
        for i in 2 .. iterations loop
            u := sha256(okey || sha256(ikey || u));
            t := t # ('x' || encode(u, 'hex'))::bit(256);
        end loop;
        result := result || backroom_private.bits_to_bytea(t);
    end loop;
    return substring(result from 1 for length);
end
$$;

-- Base32 (RFC 4648), as authenticator secrets are written: either case,
-- '=' padding optional, spaces ignored.
create or replace function backroom_private.base32_decode(encoded text) returns bytea
language plpgsql immutable strict parallel safe
set search_path = pg_catalog, pg_temp
as $$
declare
    s text := upper(replace(encoded, ' ', ''));
    n int;
    v int;
    buffer int8 := 0;
    nbits int := 0;
    pos int := 0;
    result bytea;
begin
    s := rtrim(s, '=');
    n := length(s);
    -- 1, 3 or 6 characters after the last group of 8 cannot come from any input.
    if s !~ '^[A-Z2-7]*$' or n % 8 in (1, 3, 6) then
        raise exception 'base32_decode: not base32' using errcode = 'invalid_parameter_value';
    end if;
    result := decode(repeat('00', n * 5 / 8), 'hex');
    for i in 1 .. n loop
        v := strpos('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', substr(s, i, 1)) - 1;
        buffer := ((buffer << 5) | v) & 65535;
        nbits := nbits + 5;
        if nbits >= 8 then
            nbits := nbits - 8;
            result := set_byte(result, pos, ((buffer >> nbits) & 255)::int);
            pos := pos + 1;
        end if;
    end loop;
    return result;
end
$$;

-- Compares digests of both, so the time taken says nothing about how long a
-- prefix matched.
create or replace function backroom_private.equal_digests(a bytea, b bytea) returns boolean
language sql immutable strict parallel safe
set search_path = pg_catalog, pg_temp
as $$
    select sha256(a) = sha256(b)
$$;

revoke execute on function backroom_private.sha1(bytea) from public;
revoke execute on function backroom_private.xor_byte(bytea, int) from public;
revoke execute on function backroom_private.hmac_block_key(bytea, text) from public;
revoke execute on function backroom_private.hmac(bytea, bytea, text) from public;
revoke execute on function backroom_private.hotp(bytea, bigint, int) from public;
revoke execute on function backroom_private.totp_at(bytea, bigint, int) from public;
revoke execute on function backroom_private.bits_to_bytea(bit) from public;
revoke execute on function backroom_private.pbkdf2_sha256(bytea, bytea, int, int) from public;
revoke execute on function backroom_private.base32_decode(text) from public;
revoke execute on function backroom_private.equal_digests(bytea, bytea) from public;

-- Default privileges (Supabase sets some for its API roles) may have granted
-- more at creation; only the owner keeps any right.
do $$
declare
    g record;
begin
    for g in
        select p.oid::regprocedure as fn, a.grantee::regrole as grantee
        from pg_proc p, aclexplode(p.proacl) a
        where p.pronamespace = 'backroom_private'::regnamespace
          and a.grantee <> 0 and a.grantee <> p.proowner
    loop
        execute format('revoke all on function %s from %s', g.fn, g.grantee);
    end loop;
end
$$;

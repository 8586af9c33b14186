-- Sign-in decided by Postgres: credentials no console can read, and sessions.
--
-- A staff member's password verifier (PBKDF2-HMAC-SHA256) and TOTP secret
-- live in backroom_private, which no console role can use. backroom.sign_in()
-- checks the password, the code (once per time step, one step of drift), the
-- throttle and the lockout in one transaction that holds a lock on the email,
-- records the attempt, and returns a session token. Only the token's hash is
-- kept. A console presents the token in every transaction (the setting
-- backroom.session); backroom.session_staff_id() is who that token belongs to.
-- A setting a client can write is therefore never identity by itself: it has
-- to hold a token that only a successful sign-in hands out.
--
-- Until backroom.current_staff_id() is defined by the session, the sign-in of
-- 0004 (checked by the console) stays in use beside these functions.

create table backroom_private.credential (
    staff_id            int primary key references backroom.staff(id) on delete cascade,
    password_salt       bytea not null check (length(password_salt) >= 16),
    password_iterations int not null check (password_iterations between 1000 and 10000000),
    password_key        bytea not null check (length(password_key) = 32),
    totp_secret         bytea not null check (length(totp_secret) >= 10),
    totp_last_step      bigint not null default 0,
    must_reenrol        boolean not null default false,
    locked_until        timestamptz,
    -- Failures before this moment do not count: set when a lock begins and
    -- when an admin lifts one.
    count_failures_from timestamptz
);

create table backroom_private.recovery_code (
    staff_id  int not null references backroom.staff(id) on delete cascade,
    code_hash bytea not null,
    used_at   timestamptz,
    primary key (staff_id, code_hash)
);

-- Attempts by the hash of the email as typed: an unknown address is throttled
-- like a known one, and nothing typed is kept.
create table backroom_private.attempt (
    id         bigint generated always as identity primary key,
    email_hash bytea not null,
    staff_id   int references backroom.staff(id) on delete cascade,
    at         timestamptz not null default clock_timestamp(),
    purpose    text not null check (purpose in ('sign_in', 'unlock', 'step_up')),
    outcome    text not null check (outcome in ('ok', 'failed', 'throttled', 'locked')),
    reason     text not null
);
create index attempt_email_idx on backroom_private.attempt (email_hash, at);

create table backroom_private.session (
    token_hash    bytea primary key,
    staff_id      int not null references backroom.staff(id) on delete cascade,
    started_at    timestamptz not null default clock_timestamp(),
    expires_at    timestamptz not null,
    locked        boolean not null default false,
    stepped_up_at timestamptz,
    ended_at      timestamptz,
    ended_why     text
);
create index session_staff_idx on backroom_private.session (staff_id) where ended_at is null;

alter table backroom_private.credential enable row level security;
alter table backroom_private.recovery_code enable row level security;
alter table backroom_private.attempt enable row level security;
alter table backroom_private.session enable row level security;

-- Settings of the sign-in, in one place.
create function backroom_private.sign_in_rules(
    out throttle_after int, out lock_after int, out lock_minutes int, out window_minutes int,
    out session_hours int, out step_up_seconds int, out password_iterations int)
language sql immutable set search_path = pg_catalog, pg_temp as $$
    select 5, 10, 15, 15, 16, 120, 20000
$$;

create function backroom_private.email_hash(p_email text) returns bytea
language sql immutable strict set search_path = pg_catalog, pg_temp as $$
    select sha256(convert_to(lower(btrim(p_email)), 'UTF8'))
$$;

create function backroom_private.token_hash(p_token text) returns bytea
language sql immutable strict set search_path = pg_catalog, pg_temp as $$
    select sha256(convert_to(p_token, 'UTF8'))
$$;

-- The session the current transaction presents, if it is live (locked or not).
create function backroom_private.presented_session() returns backroom_private.session
language sql stable set search_path = pg_catalog, backroom_private, pg_temp as $$
    select s.* from backroom_private.session s
    join backroom.staff st on st.id = s.staff_id and st.active
    where s.token_hash = backroom_private.token_hash(nullif(current_setting('backroom.session', true), ''))
      and s.ended_at is null and s.expires_at > clock_timestamp()
$$;

create function backroom.session_staff_id() returns int
language sql stable security definer set search_path = pg_catalog, backroom_private, pg_temp as $$
    select (p).staff_id from (select backroom_private.presented_session() as p) s
    where not (p).locked
$$;

-- Failures that count toward the throttle and the lock: the last window's,
-- since the last success and since the last lock began.
create function backroom_private.recent_failures(p_email_hash bytea, p_since timestamptz,
                                                 out n int, out last_at timestamptz)
language sql stable set search_path = pg_catalog, backroom_private, pg_temp as $$
    select count(*)::int, max(a.at) from backroom_private.attempt a
    where a.email_hash = p_email_hash and a.outcome = 'failed'
      and a.at > greatest(
          clock_timestamp() - make_interval(mins => (backroom_private.sign_in_rules()).window_minutes),
          coalesce(p_since, '-infinity'),
          coalesce((select max(b.at) from backroom_private.attempt b
                    where b.email_hash = p_email_hash and b.outcome = 'ok'), '-infinity'))
$$;

-- Is the code right for this credential? 'totp', 'recovery', or why not.
-- Takes the time step or the recovery code when it is right.
create function backroom_private.take_code(p_cred backroom_private.credential, p_code text,
                                           p_allow_recovery boolean) returns text
language plpgsql volatile set search_path = pg_catalog, backroom_private, pg_temp as $$
declare
    typed text := regexp_replace(normalize(coalesce(p_code, ''), NFKC), '\s', '', 'g');
    now_step bigint := floor(extract(epoch from clock_timestamp()) / 30)::bigint;
    step bigint;
    canon text;
begin
    if typed ~ '^[0-9]{6}$' then
        foreach step in array array[now_step, now_step - 1, now_step + 1] loop
            if backroom_private.equal_digests(
                   convert_to(backroom_private.totp_at(p_cred.totp_secret, step), 'UTF8'),
                   convert_to(typed, 'UTF8')) then
                update backroom_private.credential set totp_last_step = step
                where staff_id = p_cred.staff_id and totp_last_step < step;
                return case when found then 'totp' else 'replayed_code' end;
            end if;
        end loop;
        return 'bad_code';
    end if;
    canon := regexp_replace(lower(normalize(coalesce(p_code, ''), NFKC)), '[^a-z0-9]', '', 'g');
    if p_allow_recovery and length(canon) = 10 then
        update backroom_private.recovery_code set used_at = clock_timestamp()
        where staff_id = p_cred.staff_id and used_at is null
          and code_hash = sha256(convert_to(canon, 'UTF8'));
        if found then
            update backroom_private.credential set must_reenrol = true where staff_id = p_cred.staff_id;
            return 'recovery';
        end if;
        return 'bad_recovery_code';
    end if;
    return 'bad_code';
end
$$;

-- Records an attempt and its audit row; locks the account when this failure
-- is one too many. Returns the lock's end when it did.
create function backroom_private.record_attempt(p_email_hash bytea, p_staff int, p_purpose text,
                                                p_outcome text, p_reason text,
                                                p_count_from timestamptz) returns timestamptz
language plpgsql volatile set search_path = pg_catalog, backroom, backroom_private, pg_temp as $$
declare
    rules record := backroom_private.sign_in_rules();
    failures int;
    lock_until timestamptz;
begin
    insert into backroom_private.attempt (email_hash, staff_id, purpose, outcome, reason)
    values (p_email_hash, p_staff, p_purpose, p_outcome, p_reason);
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
    values (p_staff,
            case when p_outcome = 'ok' then p_purpose else p_purpose || '_failed' end,
            'staff', p_staff, jsonb_build_object('reason', p_reason));
    if p_outcome <> 'failed' or p_staff is null then
        return null;
    end if;
    failures := (backroom_private.recent_failures(p_email_hash, p_count_from)).n;
    if failures < rules.lock_after then
        return null;
    end if;
    lock_until := clock_timestamp() + make_interval(mins => rules.lock_minutes);
    update backroom_private.credential set count_failures_from = clock_timestamp(), locked_until = lock_until
    where staff_id = p_staff;
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
    values (p_staff, 'account_locked', 'staff', p_staff,
            jsonb_build_object('until', lock_until, 'failures', failures));
    return lock_until;
end
$$;

-- A new session for a staff member, until `p_expires`: its token, whose hash alone is kept.
create function backroom_private.open_session(p_staff int, p_expires timestamptz) returns text
language plpgsql volatile set search_path = pg_catalog, backroom_private, pg_temp as $$
declare
    new_token text := backroom_private.random_token();
begin
    insert into backroom_private.session (token_hash, staff_id, expires_at)
    values (backroom_private.token_hash(new_token), p_staff, p_expires);
    return new_token;
end
$$;

-- The staff member's recovery codes, all new.
create function backroom_private.replace_recovery_codes(p_staff int, p_hashes bytea[]) returns void
language sql volatile set search_path = pg_catalog, backroom_private, pg_temp as $$
    delete from backroom_private.recovery_code where staff_id = p_staff;
    insert into backroom_private.recovery_code (staff_id, code_hash)
    select p_staff, h from unnest(p_hashes) as h;
$$;

-- Locked, or throttled: the answer before any check is made, else null.
create function backroom_private.refuse_early(p_email_hash bytea, p_cred backroom_private.credential,
                                              out outcome text, out wait_seconds int,
                                              out locked_until timestamptz)
language plpgsql stable set search_path = pg_catalog, backroom_private, pg_temp as $$
declare
    rules record := backroom_private.sign_in_rules();
    recent record;
    wait int;
begin
    if p_cred.locked_until > clock_timestamp() then
        outcome := 'locked';
        locked_until := p_cred.locked_until;
        return;
    end if;
    recent := backroom_private.recent_failures(p_email_hash, p_cred.count_failures_from);
    if recent.n >= rules.throttle_after then
        wait := least(60, power(2, recent.n - rules.throttle_after))::int;
        wait := ceil(wait - extract(epoch from clock_timestamp() - recent.last_at))::int;
        if wait > 0 then
            outcome := 'throttled';
            wait_seconds := wait;
        end if;
    end if;
end
$$;

-- Attempts are counted after the lock on the address is taken; a snapshot taken
-- before it (repeatable read, serializable) would miss a rival's failure.
create function backroom_private.require_read_committed() returns void
language plpgsql stable set search_path = pg_catalog, pg_temp as $$
begin
    if current_setting('transaction_isolation') <> 'read committed' then
        raise exception 'sign-in and codes are checked at read committed only'
            using errcode = '25001';
    end if;
end
$$;

create function backroom.sign_in(p_email text, p_password text, p_code text)
returns table (outcome text, token text, staff_id int, display_name text, role text,
               must_reenrol boolean, used_recovery boolean, wait_seconds int,
               locked_until timestamptz)
language plpgsql volatile security definer
set search_path = pg_catalog, backroom, backroom_private, pg_temp as $$
declare
    rules record := backroom_private.sign_in_rules();
    hashed bytea := backroom_private.email_hash(coalesce(p_email, ''));
    member backroom.staff;
    cred backroom_private.credential;
    early record;
    reason text;
    lock_end timestamptz;
    new_token text;
    derived bytea;
begin
    perform backroom_private.require_read_committed();
    -- One attempt at a time per address, so forty at once are counted one by one.
    perform pg_advisory_xact_lock(hashtextextended('backroom.sign_in:' || encode(hashed, 'hex'), 0));
    select * into member from backroom.staff s where s.email = lower(btrim(coalesce(p_email, '')));
    select * into cred from backroom_private.credential c where c.staff_id = member.id for update;

    early := backroom_private.refuse_early(hashed, cred);
    if early.outcome is not null then
        perform backroom_private.record_attempt(hashed, member.id, 'sign_in', early.outcome,
                                                early.outcome, cred.count_failures_from);
        return query select early.outcome, null::text, null::int, null::text, null::text,
                            null::boolean, null::boolean, early.wait_seconds, early.locked_until;
        return;
    end if;

    -- The password is derived even for an unknown address, so both take as long.
    derived := backroom_private.pbkdf2_sha256(
        convert_to(coalesce(p_password, ''), 'UTF8'),
        coalesce(cred.password_salt, '\x00000000000000000000000000000000'::bytea),
        coalesce(cred.password_iterations, rules.password_iterations));
    if member.id is null then
        reason := 'unknown_email';
    elsif cred.staff_id is null then
        reason := 'not_enrolled';
    elsif not member.active then
        reason := 'inactive';
    elsif not backroom_private.equal_digests(derived, cred.password_key) then
        reason := 'bad_password';
    else
        reason := backroom_private.take_code(cred, p_code, true);
    end if;

    if reason not in ('totp', 'recovery') then
        lock_end := backroom_private.record_attempt(hashed, member.id, 'sign_in', 'failed', reason,
                                                    cred.count_failures_from);
        return query select case when lock_end is null then 'failed' else 'locked' end, null::text,
                            null::int, null::text, null::text, null::boolean, null::boolean,
                            null::int, lock_end;
        return;
    end if;

    perform backroom_private.record_attempt(hashed, member.id, 'sign_in', 'ok', reason, cred.count_failures_from);
    new_token := backroom_private.open_session(
        member.id, clock_timestamp() + make_interval(hours => rules.session_hours));
    return query
        select 'ok'::text, new_token, member.id, member.display_name, member.role,
               (select c.must_reenrol from backroom_private.credential c where c.staff_id = member.id),
               reason = 'recovery', null::int, null::timestamptz;
end
$$;

-- A fresh code from the staff member of the presented session: 'unlock'
-- opens a locked session, 'step_up' allows a guarded change for a while.
create function backroom.confirm_code(p_purpose text, p_code text)
returns table (outcome text, wait_seconds int, locked_until timestamptz)
language plpgsql volatile security definer
set search_path = pg_catalog, backroom, backroom_private, pg_temp as $$
declare
    sess backroom_private.session := backroom_private.presented_session();
    member backroom.staff;
    cred backroom_private.credential;
    hashed bytea;
    early record;
    reason text;
    lock_end timestamptz;
begin
    if p_purpose not in ('unlock', 'step_up') then
        raise exception 'no such confirmation: %', p_purpose using errcode = '22023';
    end if;
    if sess.token_hash is null then
        raise exception 'no staff member is signed in on this connection' using errcode = '42501';
    end if;
    perform backroom_private.require_read_committed();
    select * into member from backroom.staff s where s.id = sess.staff_id;
    hashed := backroom_private.email_hash(member.email);
    perform pg_advisory_xact_lock(hashtextextended('backroom.sign_in:' || encode(hashed, 'hex'), 0));
    select * into cred from backroom_private.credential c where c.staff_id = member.id for update;

    early := backroom_private.refuse_early(hashed, cred);
    if early.outcome is not null then
        perform backroom_private.record_attempt(hashed, member.id, p_purpose, early.outcome,
                                                early.outcome, cred.count_failures_from);
        return query select early.outcome, early.wait_seconds, early.locked_until;
        return;
    end if;
    reason := backroom_private.take_code(cred, p_code, false);
    if reason <> 'totp' then
        lock_end := backroom_private.record_attempt(hashed, member.id, p_purpose, 'failed', reason,
                                                    cred.count_failures_from);
        return query select case when lock_end is null then 'failed' else 'locked' end,
                            null::int, lock_end;
        return;
    end if;
    perform backroom_private.record_attempt(hashed, member.id, p_purpose, 'ok', reason, cred.count_failures_from);
    update backroom_private.session s
    set locked = case when p_purpose = 'unlock' then false else s.locked end,
        stepped_up_at = clock_timestamp()
    where s.token_hash = sess.token_hash;
    return query select 'ok'::text, null::int, null::timestamptz;
end
$$;

create function backroom.lock_session() returns void
language sql volatile security definer set search_path = pg_catalog, backroom_private, pg_temp as $$
    update backroom_private.session set locked = true
    where token_hash = (backroom_private.presented_session()).token_hash
$$;

create function backroom.end_session(p_why text default 'signed_out') returns void
language sql volatile security definer set search_path = pg_catalog, backroom_private, pg_temp as $$
    update backroom_private.session
    set ended_at = clock_timestamp(), ended_why = left(coalesce(p_why, 'signed_out'), 40)
    where token_hash = (backroom_private.presented_session()).token_hash
$$;

create function backroom.session_stepped_up() returns boolean
language sql stable security definer set search_path = pg_catalog, backroom_private, pg_temp as $$
    select coalesce((select (p).stepped_up_at > clock_timestamp()
                              - make_interval(secs => (backroom_private.sign_in_rules()).step_up_seconds)
                     from (select backroom_private.presented_session() as p) s
                     where not (p).locked), false)
$$;

-- Enrolment: the verifier and the secret go in once and never come out.
create function backroom.enrol_staff(p_email text, p_name text, p_role text, p_salt bytea,
                                     p_iterations int, p_key bytea, p_totp_secret bytea,
                                     p_code_hashes bytea[])
returns int
language plpgsql volatile security definer
set search_path = pg_catalog, backroom, backroom_private, pg_temp as $$
declare
    sid int;
begin
    perform backroom.require_admin();
    insert into backroom.staff (email, display_name, role)
    values (lower(btrim(p_email)), p_name, p_role)
    on conflict (email) do update
        set display_name = excluded.display_name, role = excluded.role, active = true
    returning id into sid;
    insert into backroom_private.credential (staff_id, password_salt, password_iterations,
                                             password_key, totp_secret)
    values (sid, p_salt, p_iterations, p_key, p_totp_secret)
    on conflict (staff_id) do update
        set password_salt = excluded.password_salt, password_iterations = excluded.password_iterations,
            password_key = excluded.password_key, totp_secret = excluded.totp_secret,
            totp_last_step = 0, must_reenrol = false, locked_until = null,
            count_failures_from = clock_timestamp();
    perform backroom_private.replace_recovery_codes(sid, p_code_hashes);
    update backroom_private.session set ended_at = clock_timestamp(), ended_why = 're-enrolled'
    where staff_id = sid and ended_at is null;
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
    values (backroom.current_staff_id(), 'staff_saved', 'staff', sid,
            jsonb_build_object('email', lower(btrim(p_email)), 'role', p_role));
    return sid;
end
$$;

create function backroom.enrol_totp(p_email text, p_totp_secret bytea, p_code_hashes bytea[])
returns int
language plpgsql volatile security definer
set search_path = pg_catalog, backroom, backroom_private, pg_temp as $$
declare
    sid int;
begin
    perform backroom.require_admin();
    update backroom_private.credential c
    set totp_secret = p_totp_secret, totp_last_step = 0, must_reenrol = false
    from backroom.staff s
    where s.id = c.staff_id and s.email = lower(btrim(p_email))
    returning c.staff_id into sid;
    if sid is null then
        raise exception 'no enrolled staff member %', p_email using errcode = 'P0002';
    end if;
    perform backroom_private.replace_recovery_codes(sid, p_code_hashes);
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
    values (backroom.current_staff_id(), 'totp_reset', 'staff', sid,
            jsonb_build_object('email', lower(btrim(p_email))));
    return sid;
end
$$;

revoke all on all functions in schema backroom_private from public;
revoke execute on function backroom.session_staff_id(), backroom.sign_in(text, text, text),
    backroom.confirm_code(text, text), backroom.lock_session(), backroom.end_session(text),
    backroom.session_stepped_up(),
    backroom.enrol_staff(text, text, text, bytea, int, bytea, bytea, bytea[]),
    backroom.enrol_totp(text, bytea, bytea[])
    from public;
grant execute on function backroom.session_staff_id(), backroom.sign_in(text, text, text),
    backroom.confirm_code(text, text), backroom.lock_session(), backroom.end_session(text),
    backroom.session_stepped_up(),
    backroom.enrol_staff(text, text, text, bytea, int, bytea, bytea, bytea[]),
    backroom.enrol_totp(text, bytea, bytea[])
    to backroom_console;

-- Operations these functions write -------------------------------------------------
insert into backroom.audit_operation (name, kind) values
    ('unlock', 'function'), ('unlock_failed', 'function'),
    ('step_up', 'function'), ('step_up_failed', 'function'),
    ('sign_out', 'function'), ('lock', 'function')
on conflict (name) do nothing;

-- The owner's own door in: a session for a staff member without their
-- password or code, for set-up tools and tests connected as the owner.
create function backroom_meta.open_session(p_staff int, p_hours int default 16) returns text
language plpgsql volatile set search_path = pg_catalog, backroom_private, pg_temp as $$
begin
    return backroom_private.open_session(p_staff, clock_timestamp() + make_interval(hours => p_hours));
end
$$;
revoke all on function backroom_meta.open_session(int, int) from public;

-- Supabase: a verified access token buys a session ---------------------------------
-- Supabase Auth has checked the password and the code (AAL2) and signed the
-- access token with the project's JWT secret (HS256). Postgres checks that
-- signature itself with the secret the owner stored, so a console's login can
-- name nobody by writing a claim.
create table backroom_private.supabase_jwt (
    only_one boolean primary key default true check (only_one),
    secret   bytea not null check (length(secret) >= 16)
);
alter table backroom_private.supabase_jwt enable row level security;

create function backroom_private.b64url(p text) returns bytea
language sql immutable strict set search_path = pg_catalog, pg_temp as $$
    select decode(translate(p, '-_', '+/') || repeat('=', (4 - length(p) % 4) % 4), 'base64')
$$;

create function backroom_private.verified_claims(p_jwt text) returns jsonb
language plpgsql stable set search_path = pg_catalog, backroom_private, pg_temp as $$
declare
    parts text[] := string_to_array(coalesce(p_jwt, ''), '.');
    key bytea := (select secret from backroom_private.supabase_jwt);
    claims jsonb;
begin
    if key is null or array_length(parts, 1) <> 3
       or convert_from(backroom_private.b64url(parts[1]), 'UTF8')::jsonb->>'alg' <> 'HS256'
       or not backroom_private.equal_digests(
           backroom_private.b64url(parts[3]),
           backroom_private.hmac(key, convert_to(parts[1] || '.' || parts[2], 'UTF8'), 'sha256')) then
        return null;
    end if;
    claims := convert_from(backroom_private.b64url(parts[2]), 'UTF8')::jsonb;
    if (claims->>'exp')::numeric <= extract(epoch from clock_timestamp())
       or claims->>'role' is distinct from 'authenticated' then
        return null;
    end if;
    return claims;
exception when others then
    return null;  -- not base64, not JSON, not a number: not a token we issued
end
$$;

create function backroom.supabase_session(p_access_token text)
returns table (outcome text, token text, staff_id int, display_name text, role text)
language plpgsql volatile security definer
set search_path = pg_catalog, backroom, backroom_private, pg_temp as $$
declare
    claims jsonb := backroom_private.verified_claims(p_access_token);
    member backroom.staff;
    new_token text;
begin
    if claims is null or claims->>'aal' is distinct from 'aal2' then
        return query select 'failed'::text, null::text, null::int, null::text, null::text;
        return;
    end if;
    execute 'select * from backroom.staff where auth_user_id = $1 and active'
        into member using (claims->>'sub')::uuid;
    if member.id is null then
        return query select 'failed'::text, null::text, null::int, null::text, null::text;
        return;
    end if;
    new_token := backroom_private.open_session(member.id,
        least(to_timestamp((claims->>'exp')::numeric) + interval '16 hours',
              clock_timestamp() + make_interval(hours => (backroom_private.sign_in_rules()).session_hours)));
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
    values (member.id, 'sign_in', 'staff', member.id, jsonb_build_object('reason', 'supabase'));
    return query select 'ok'::text, new_token, member.id, member.display_name, member.role;
end
$$;

-- A fresh code checked by Supabase Auth shows in the new token's amr.
create function backroom.supabase_confirm(p_purpose text, p_access_token text) returns boolean
language plpgsql volatile security definer
set search_path = pg_catalog, backroom, backroom_private, pg_temp as $$
declare
    sess backroom_private.session := backroom_private.presented_session();
    claims jsonb := backroom_private.verified_claims(p_access_token);
    owner_id int;
    fresh boolean;
begin
    if p_purpose not in ('unlock', 'step_up') or sess.token_hash is null or claims is null then
        return false;
    end if;
    execute 'select id from backroom.staff where auth_user_id = $1 and active'
        into owner_id using (claims->>'sub')::uuid;
    fresh := exists (
        select from jsonb_array_elements(coalesce(claims->'amr', '[]')) m
        where m->>'method' = 'totp'
          and (m->>'timestamp')::numeric > extract(epoch from clock_timestamp())
                                          - (backroom_private.sign_in_rules()).step_up_seconds);
    if owner_id is distinct from sess.staff_id or not fresh then
        return false;
    end if;
    update backroom_private.session s
    set locked = case when p_purpose = 'unlock' then false else s.locked end,
        stepped_up_at = clock_timestamp()
    where s.token_hash = sess.token_hash;
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
    values (sess.staff_id, p_purpose, 'staff', sess.staff_id, jsonb_build_object('reason', 'supabase'));
    return true;
end
$$;

create function backroom_meta.set_supabase_jwt_secret(p_secret bytea) returns void
language sql volatile set search_path = pg_catalog, backroom_private, pg_temp as $$
    insert into backroom_private.supabase_jwt (secret) values (p_secret)
    on conflict (only_one) do update set secret = excluded.secret
$$;
revoke all on function backroom_meta.set_supabase_jwt_secret(bytea) from public;


grant execute on function backroom.supabase_session(text), backroom.supabase_confirm(text, text)
    to backroom_console;
revoke execute on function backroom.supabase_session(text), backroom.supabase_confirm(text, text)
    from public;
revoke all on all functions in schema backroom_private from public;

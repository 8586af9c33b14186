-- A sign-in's answer only after its attempt is committed.
--
-- backroom.sign_in() used to return its outcome in the transaction that
-- recorded the attempt. A client could read the outcome and roll back every
-- failure (`select case when outcome <> 'ok' then 1/0 end from
-- backroom.sign_in(...)`), so no failure was ever counted: unlimited guesses
-- of a colleague's password and code, with neither throttle nor lock.
--
-- Now each check is two calls, in two transactions:
--   backroom.sign_in(email, password, code)  -> a handle (uuid), nothing more
--   backroom.sign_in_answer(handle)           -> the outcome and the session
-- and the same for a fresh code: confirm_code(purpose, code) -> handle,
-- confirm_answer(handle) -> outcome. The answer is given only once the
-- transaction of the first call has committed (pg_xact_status), so every
-- attempt whose outcome anyone learns is counted. The first call writes the
-- same rows whatever the verdict (one attempt, one answer, both private), and
-- computes the code check even when the password is wrong, so its effects and
-- its time say nothing either. Everything the verdict decides (taking the
-- time step or the recovery code, the session, the audit row) happens in the
-- second call. An answer not asked for within a minute is audited as such and
-- dropped, and can no longer open a session.
--
-- A check waits at most three seconds for another check of the same address
-- (lock_timeout), so a transaction left open after a check cannot hold a
-- colleague's sign-in for longer than that.

create table backroom_private.answer (
    handle        uuid primary key default gen_random_uuid(),
    xact          xid8 not null default pg_current_xact_id(),
    made_at       timestamptz not null default clock_timestamp(),
    purpose       text not null check (purpose in ('sign_in', 'unlock', 'step_up')),
    staff_id      int references backroom.staff(id) on delete cascade,
    email_hash    bytea not null,
    session_hash  bytea,
    verdict       text not null,
    step          bigint,
    recovery_hash bytea,
    wait_seconds  int,
    locked_until  timestamptz
);
alter table backroom_private.answer enable row level security;

create function backroom_private.answer_seconds() returns int
language sql immutable set search_path = pg_catalog, pg_temp as $$ select 60 $$;

-- The verdict on a code, with no writes: 'totp' (and its step), 'recovery' (and
-- the code's hash), or why not. The TOTP comparisons run whatever the code looks
-- like and whoever the credential is, so they take the same time.
create function backroom_private.code_verdict(p_cred backroom_private.credential, p_code text,
                                              p_allow_recovery boolean,
                                              out verdict text, out step bigint,
                                              out recovery_hash bytea)
language plpgsql stable set search_path = pg_catalog, backroom_private, pg_temp as $$
declare
    typed text := regexp_replace(normalize(coalesce(p_code, ''), NFKC), '\s', '', 'g');
    now_step bigint := floor(extract(epoch from clock_timestamp()) / 30)::bigint;
    secret bytea := coalesce(p_cred.totp_secret, '\x0000000000000000000000000000000000000000'::bytea);
    candidate bigint;
    matched bigint;
    canon text;
begin
    foreach candidate in array array[now_step, now_step - 1, now_step + 1] loop
        if backroom_private.equal_digests(
               convert_to(backroom_private.totp_at(secret, candidate), 'UTF8'),
               convert_to(lpad(left(typed, 6), 6, 'x'), 'UTF8'))
           and matched is null then
            matched := candidate;
        end if;
    end loop;
    if typed ~ '^[0-9]{6}$' then
        if matched is null or p_cred.staff_id is null then
            verdict := 'bad_code';
        elsif matched <= p_cred.totp_last_step then
            verdict := 'replayed_code';
        else
            verdict := 'totp';
            step := matched;
        end if;
        return;
    end if;
    canon := regexp_replace(lower(normalize(coalesce(p_code, ''), NFKC)), '[^a-z0-9]', '', 'g');
    if p_allow_recovery and length(canon) = 10 then
        recovery_hash := sha256(convert_to(canon, 'UTF8'));
        verdict := case when exists (select from backroom_private.recovery_code r
                                     where r.staff_id = p_cred.staff_id and r.used_at is null
                                       and r.code_hash = recovery_hash)
                        then 'recovery' else 'bad_recovery_code' end;
        if verdict <> 'recovery' then
            recovery_hash := null;
        end if;
        return;
    end if;
    verdict := 'bad_code';
end
$$;

-- Takes what a right verdict found: the time step, or the recovery code. Another
-- answer may have taken it in between: then why not.
create function backroom_private.take_verdict(p_answer backroom_private.answer) returns text
language plpgsql volatile set search_path = pg_catalog, backroom_private, pg_temp as $$
begin
    if p_answer.verdict = 'totp' then
        update backroom_private.credential set totp_last_step = p_answer.step
        where staff_id = p_answer.staff_id and totp_last_step < p_answer.step;
        return case when found then 'totp' else 'replayed_code' end;
    elsif p_answer.verdict = 'recovery' then
        update backroom_private.recovery_code set used_at = clock_timestamp()
        where staff_id = p_answer.staff_id and code_hash = p_answer.recovery_hash and used_at is null;
        if not found then
            return 'bad_recovery_code';
        end if;
        update backroom_private.credential set must_reenrol = true where staff_id = p_answer.staff_id;
        return 'recovery';
    end if;
    return p_answer.verdict;
end
$$;

-- Answers nobody asked for in time: audited as such, and gone.
create function backroom_private.settle_unanswered() returns void
language sql volatile set search_path = pg_catalog, backroom, backroom_private, pg_temp as $$
    with gone as (
        delete from backroom_private.answer
        where made_at < clock_timestamp() - make_interval(secs => backroom_private.answer_seconds())
        returning staff_id, purpose, verdict
    )
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
    select staff_id, purpose || '_failed', 'staff', staff_id,
           jsonb_build_object('reason', 'not asked for: ' || verdict)
    from gone
$$;

-- The answer of `p_handle`, once: only after the transaction that made it has
-- committed, and only within a minute. Null when there is none to give.
create function backroom_private.claim_answer(p_handle uuid, p_purposes text[])
returns backroom_private.answer
language plpgsql volatile set search_path = pg_catalog, backroom_private, pg_temp as $$
declare
    found_answer backroom_private.answer;
begin
    select * into found_answer from backroom_private.answer a
    where a.handle = p_handle and a.purpose = any (p_purposes) for update;
    if found_answer.handle is null then
        return null;
    end if;
    if pg_xact_status(found_answer.xact) is distinct from 'committed' then
        raise exception 'the answer comes once the check has been committed'
            using errcode = '25000';
    end if;
    delete from backroom_private.answer where handle = p_handle;
    if found_answer.made_at < clock_timestamp() - make_interval(secs => backroom_private.answer_seconds()) then
        found_answer.verdict := 'not_asked_in_time';
    end if;
    return found_answer;
end
$$;

-- The sign-in --------------------------------------------------------------------------
drop function backroom.sign_in(text, text, text);

create function backroom.sign_in(p_email text, p_password text, p_code text) returns uuid
language plpgsql volatile security definer
set search_path = pg_catalog, backroom, backroom_private, pg_temp
set lock_timeout = '3s' as $$
declare
    rules record := backroom_private.sign_in_rules();
    hashed bytea := backroom_private.email_hash(coalesce(p_email, ''));
    member backroom.staff;
    cred backroom_private.credential;
    early record;
    code record;
    verdict text;
    lock_end timestamptz;
    derived bytea;
    handle uuid;
begin
    perform backroom_private.require_read_committed();
    perform backroom_private.settle_unanswered();
    -- One check at a time per address, so forty at once are counted one by one.
    perform pg_advisory_xact_lock(hashtextextended('backroom.sign_in:' || encode(hashed, 'hex'), 0));
    select * into member from backroom.staff s where s.email = lower(btrim(coalesce(p_email, '')));
    select * into cred from backroom_private.credential c where c.staff_id = member.id for update;

    early := backroom_private.refuse_early(hashed, cred);
    if early.outcome is not null then
        insert into backroom_private.attempt (email_hash, staff_id, purpose, outcome, reason)
        values (hashed, member.id, 'sign_in', early.outcome, early.outcome);
        insert into backroom_private.answer (purpose, staff_id, email_hash, verdict, wait_seconds,
                                             locked_until)
        values ('sign_in', member.id, hashed, early.outcome, early.wait_seconds, early.locked_until)
        returning answer.handle into handle;
        return handle;
    end if;

    -- The password is derived and the code checked even for an unknown address or a
    -- wrong password, so every attempt takes as long.
    derived := backroom_private.pbkdf2_sha256(
        convert_to(coalesce(p_password, ''), 'UTF8'),
        coalesce(cred.password_salt, '\x00000000000000000000000000000000'::bytea),
        coalesce(cred.password_iterations, rules.password_iterations));
    code := backroom_private.code_verdict(cred, p_code, true);
    if member.id is null then
        verdict := 'unknown_email';
    elsif cred.staff_id is null then
        verdict := 'not_enrolled';
    elsif not member.active then
        verdict := 'inactive';
    elsif not backroom_private.equal_digests(derived, cred.password_key) then
        verdict := 'bad_password';
    else
        verdict := code.verdict;
    end if;

    insert into backroom_private.attempt (email_hash, staff_id, purpose, outcome, reason)
    values (hashed, member.id, 'sign_in',
            case when verdict in ('totp', 'recovery') then 'ok' else 'failed' end, verdict);
    if verdict not in ('totp', 'recovery') and member.id is not null then
        lock_end := backroom_private.lock_if_too_many(hashed, member.id, cred.count_failures_from);
    end if;
    insert into backroom_private.answer (purpose, staff_id, email_hash, verdict, step, recovery_hash,
                                         locked_until)
    values ('sign_in', member.id, hashed, verdict,
            case when verdict = 'totp' then code.step end,
            case when verdict = 'recovery' then code.recovery_hash end, lock_end)
    returning answer.handle into handle;
    return handle;
end
$$;

-- The lock after one failure too many (the attempt is already recorded).
create function backroom_private.lock_if_too_many(p_email_hash bytea, p_staff int,
                                                  p_count_from timestamptz) returns timestamptz
language plpgsql volatile set search_path = pg_catalog, backroom, backroom_private, pg_temp as $$
declare
    rules record := backroom_private.sign_in_rules();
    failures int := (backroom_private.recent_failures(p_email_hash, p_count_from)).n;
    lock_until timestamptz;
begin
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

create function backroom.sign_in_answer(p_handle uuid)
returns table (outcome text, token text, staff_id int, display_name text, role text,
               must_reenrol boolean, used_recovery boolean, wait_seconds int,
               locked_until timestamptz)
language plpgsql volatile security definer
set search_path = pg_catalog, backroom, backroom_private, pg_temp as $$
declare
    rules record := backroom_private.sign_in_rules();
    a backroom_private.answer := backroom_private.claim_answer(p_handle, array['sign_in']);
    reason text;
    member backroom.staff;
    new_token text;
begin
    if a.handle is null then
        return query select 'failed'::text, null::text, null::int, null::text, null::text,
                            null::boolean, null::boolean, null::int, null::timestamptz;
        return;
    end if;
    if a.verdict in ('locked', 'throttled') then
        insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
        values (a.staff_id, 'sign_in_failed', 'staff', a.staff_id, jsonb_build_object('reason', a.verdict));
        return query select a.verdict, null::text, null::int, null::text, null::text,
                            null::boolean, null::boolean, a.wait_seconds, a.locked_until;
        return;
    end if;
    reason := backroom_private.take_verdict(a);
    select * into member from backroom.staff s where s.id = a.staff_id and s.active;
    if reason not in ('totp', 'recovery') or member.id is null then
        if a.verdict in ('totp', 'recovery') then
            -- Right when checked, spent or disabled since: a failure after all.
            insert into backroom_private.attempt (email_hash, staff_id, purpose, outcome, reason)
            values (a.email_hash, a.staff_id, 'sign_in', 'failed', coalesce(reason, 'inactive'));
        end if;
        insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
        values (a.staff_id, 'sign_in_failed', 'staff', a.staff_id, jsonb_build_object('reason', reason));
        return query select case when a.locked_until is null then 'failed' else 'locked' end, null::text,
                            null::int, null::text, null::text, null::boolean, null::boolean,
                            null::int, a.locked_until;
        return;
    end if;
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
    values (member.id, 'sign_in', 'staff', member.id, jsonb_build_object('reason', reason));
    new_token := backroom_private.open_session(
        member.id, clock_timestamp() + make_interval(hours => rules.session_hours));
    return query
        select 'ok'::text, new_token, member.id, member.display_name, member.role,
               (select c.must_reenrol from backroom_private.credential c where c.staff_id = member.id),
               reason = 'recovery', null::int, null::timestamptz;
end
$$;

-- A fresh code -------------------------------------------------------------------------
drop function backroom.confirm_code(text, text);

create function backroom.confirm_code(p_purpose text, p_code text) returns uuid
language plpgsql volatile security definer
set search_path = pg_catalog, backroom, backroom_private, pg_temp
set lock_timeout = '3s' as $$
declare
    sess backroom_private.session := backroom_private.presented_session();
    member backroom.staff;
    cred backroom_private.credential;
    hashed bytea;
    early record;
    code record;
    lock_end timestamptz;
    handle uuid;
begin
    if p_purpose not in ('unlock', 'step_up') then
        raise exception 'no such confirmation: %', p_purpose using errcode = '22023';
    end if;
    if sess.token_hash is null then
        raise exception 'no staff member is signed in on this connection' using errcode = '42501';
    end if;
    perform backroom_private.require_read_committed();
    perform backroom_private.settle_unanswered();
    select * into member from backroom.staff s where s.id = sess.staff_id;
    hashed := backroom_private.email_hash(member.email);
    perform pg_advisory_xact_lock(hashtextextended('backroom.sign_in:' || encode(hashed, 'hex'), 0));
    select * into cred from backroom_private.credential c where c.staff_id = member.id for update;

    early := backroom_private.refuse_early(hashed, cred);
    if early.outcome is not null then
        insert into backroom_private.attempt (email_hash, staff_id, purpose, outcome, reason)
        values (hashed, member.id, p_purpose, early.outcome, early.outcome);
        insert into backroom_private.answer (purpose, staff_id, email_hash, session_hash, verdict,
                                             wait_seconds, locked_until)
        values (p_purpose, member.id, hashed, sess.token_hash, early.outcome, early.wait_seconds,
                early.locked_until)
        returning answer.handle into handle;
        return handle;
    end if;
    code := backroom_private.code_verdict(cred, p_code, false);
    insert into backroom_private.attempt (email_hash, staff_id, purpose, outcome, reason)
    values (hashed, member.id, p_purpose, case when code.verdict = 'totp' then 'ok' else 'failed' end,
            code.verdict);
    if code.verdict <> 'totp' then
        lock_end := backroom_private.lock_if_too_many(hashed, member.id, cred.count_failures_from);
    end if;
    insert into backroom_private.answer (purpose, staff_id, email_hash, session_hash, verdict, step,
                                         locked_until)
    values (p_purpose, member.id, hashed, sess.token_hash, code.verdict,
            case when code.verdict = 'totp' then code.step end, lock_end)
    returning answer.handle into handle;
    return handle;
end
$$;

create function backroom.confirm_answer(p_handle uuid)
returns table (outcome text, wait_seconds int, locked_until timestamptz)
language plpgsql volatile security definer
set search_path = pg_catalog, backroom, backroom_private, pg_temp as $$
declare
    sess backroom_private.session := backroom_private.presented_session();
    a backroom_private.answer := backroom_private.claim_answer(p_handle, array['unlock', 'step_up']);
    reason text;
begin
    -- Only on the session the code was typed on.
    if a.handle is null or sess.token_hash is distinct from a.session_hash then
        return query select 'failed'::text, null::int, null::timestamptz;
        return;
    end if;
    if a.verdict in ('locked', 'throttled') then
        insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
        values (a.staff_id, a.purpose || '_failed', 'staff', a.staff_id,
                jsonb_build_object('reason', a.verdict));
        return query select a.verdict, a.wait_seconds, a.locked_until;
        return;
    end if;
    reason := backroom_private.take_verdict(a);
    if reason <> 'totp' then
        if a.verdict = 'totp' then
            insert into backroom_private.attempt (email_hash, staff_id, purpose, outcome, reason)
            values (a.email_hash, a.staff_id, a.purpose, 'failed', reason);
        end if;
        insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
        values (a.staff_id, a.purpose || '_failed', 'staff', a.staff_id,
                jsonb_build_object('reason', reason));
        return query select case when a.locked_until is null then 'failed' else 'locked' end,
                            null::int, a.locked_until;
        return;
    end if;
    update backroom_private.session s
    set locked = case when a.purpose = 'unlock' then false else s.locked end,
        stepped_up_at = clock_timestamp()
    where s.token_hash = a.session_hash;
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
    values (a.staff_id, a.purpose, 'staff', a.staff_id, jsonb_build_object('reason', reason));
    return query select 'ok'::text, null::int, null::timestamptz;
end
$$;

revoke all on all functions in schema backroom_private from public;
revoke execute on function backroom.sign_in(text, text, text), backroom.sign_in_answer(uuid),
    backroom.confirm_code(text, text), backroom.confirm_answer(uuid) from public;
grant execute on function backroom.sign_in(text, text, text), backroom.sign_in_answer(uuid),
    backroom.confirm_code(text, text), backroom.confirm_answer(uuid) to backroom_console;

-- A token Supabase signed with no expiry is not one of Supabase's.
create or replace function backroom_private.verified_claims(p_jwt text) returns jsonb
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
    if claims->>'exp' is null
       or (claims->>'exp')::numeric <= extract(epoch from clock_timestamp())
       or claims->>'role' is distinct from 'authenticated' then
        return null;
    end if;
    return claims;
exception when others then
    return null;  -- not base64, not JSON, not a number: not a token we issued
end
$$;
revoke all on function backroom_private.verified_claims(text) from public;

select backroom_meta.put_pg_temp_last();

-- What a console needs to know before it starts: how far the schema is migrated,
-- and whether there is a venue. Nothing else, and no session needed.
create function backroom.readiness(out migrated int, out venue boolean)
language sql stable security definer
set search_path = pg_catalog, backroom, backroom_meta, pg_temp as $$
    select (select max(m.version) from backroom_meta.migration m),
           exists (select from backroom.venue)
$$;
revoke all on function backroom.readiness() from public;
grant execute on function backroom.readiness() to backroom_console;

-- What the one-call check of 0011 used, and nothing uses now.
drop function backroom_private.take_code(backroom_private.credential, text, boolean);
drop function backroom_private.record_attempt(bytea, int, text, text, text, timestamptz);

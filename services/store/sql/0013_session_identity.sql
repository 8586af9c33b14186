-- Identity comes from the session: the staff member a transaction acts for is
-- the one whose session token it presents (backroom.session), never a
-- setting the client names someone with.
--
-- After this migration:
--   backroom.current_staff_id()      the presented session's staff member (a
--                                    locked session's too), or, for Supabase
--                                    API requests (role authenticated), the
--                                    JWT's staff member
--   backroom.current_staff_role()    their role, but none while the session is
--                                    locked: a locked console reads, and
--                                    changes nothing
--   backroom.stepped_up_recently()   a code was confirmed on this session lately
--   update_staff / unlock_staff      end sessions and lift locks in backroom_private
-- and the sign-in of 0004, which the console checked itself, is gone: its
-- functions, its tables, and the credential columns on backroom.staff.
-- Accounts enrolled that way have no credential here; `backroom staff add`
-- enrols them again (it sets a password, which `reset-totp` cannot).

-- Who is acting ---------------------------------------------------------------------
-- The staff member holding the presented session, locked or not: a locked console
-- keeps its floor and its presence up to date behind the cover...
create function backroom.session_holder_id() returns int
language sql stable security definer set search_path = pg_catalog, backroom_private, pg_temp as $$
    select (backroom_private.presented_session()).staff_id
$$;
revoke all on function backroom.session_holder_id() from public;
grant execute on function backroom.session_holder_id() to backroom_console;

-- ...and changes nothing: every write needs a role, and a locked session has none
-- until its own staff member's code opens it (backroom.confirm_code).
create or replace function backroom.current_staff_role() returns text
language sql stable security definer set search_path = pg_catalog, backroom, backroom_private, pg_temp as $$
    select s.role from backroom.staff s
    where s.id = backroom.current_staff_id() and s.active
      and (current_setting('role', true) = 'authenticated'
           or not coalesce((backroom_private.presented_session()).locked, false))
$$;

-- Its own operations' outcomes are a write like any other.
alter policy staff_update on backroom.operation
    using (staff_id = backroom.current_staff_id() and backroom.current_staff_role() is not null);

create function backroom_meta.apply_session_identity() returns void
language plpgsql set search_path = pg_catalog as $fn$
begin
    if to_regprocedure('backroom.auth_staff_id()') is not null
       and exists (select from pg_roles where rolname = 'authenticated') then
        -- 'role' is what SET ROLE set, also inside definer functions; only a member of
        -- authenticated (Supabase's API, after checking the JWT) can have set it.
        create or replace function backroom.current_staff_id() returns int
        language sql stable set search_path = pg_catalog, backroom, pg_temp as $b$
            select case when current_setting('role', true) = 'authenticated'
                        then backroom.auth_staff_id()
                        else backroom.session_holder_id() end
        $b$;
        grant execute on function backroom.session_holder_id() to authenticated;
    else
        create or replace function backroom.current_staff_id() returns int
        language sql stable set search_path = pg_catalog, backroom, pg_temp as $b$
            select backroom.session_holder_id()
        $b$;
    end if;

    create or replace function backroom.stepped_up_recently() returns boolean
    language sql stable security definer set search_path = pg_catalog, backroom, pg_temp as $b$
        select backroom.session_stepped_up()
    $b$;

    -- A console finds who signed in through Supabase by the verified token
    -- (backroom.supabase_session), never by naming a user.
    if to_regprocedure('backroom.staff_for_auth_user(uuid)') is not null then
        revoke execute on function backroom.staff_for_auth_user(uuid) from backroom_console;
    end if;

    perform backroom_meta.put_pg_temp_last();
end
$fn$;
revoke all on function backroom_meta.apply_session_identity() from public;

-- enable_supabase() redefines current_staff_id() its way: apply ours after it.
create or replace function backroom_meta.enable_supabase() returns text[]
language plpgsql set search_path = pg_catalog as $fn$
declare
    done text[] := backroom_meta.enable_supabase_parts();
begin
    perform backroom_meta.apply_console_rules();
    perform backroom_meta.apply_session_identity();
    return done;
end
$fn$;
revoke all on function backroom_meta.enable_supabase() from public;

-- Staff management ends sessions it makes wrong ------------------------------------
create or replace function backroom.update_staff(p_email text, p_role text, p_active boolean)
returns int
language plpgsql volatile security definer
set search_path = pg_catalog, backroom, backroom_private, pg_temp as $$
declare
    member backroom.staff;
begin
    perform backroom.require_admin();
    select * into member from backroom.staff where email = lower(btrim(p_email)) for update;
    if member.id is null then
        raise exception 'no staff member %', p_email using errcode = 'P0002';
    end if;
    update backroom.staff set role = coalesce(p_role, role), active = coalesce(p_active, active)
    where id = member.id;
    if p_active then
        update backroom_private.credential
        set locked_until = null, count_failures_from = clock_timestamp()
        where staff_id = member.id;
    end if;
    -- A console keeps the role it signed in with: a new role needs a new sign-in.
    if p_active is false or coalesce(p_role, member.role) <> member.role then
        update backroom_private.session
        set ended_at = clock_timestamp(),
            ended_why = case when p_active is false then 'disabled' else 'role_changed' end
        where staff_id = member.id and ended_at is null;
    end if;
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, before, after)
    values (backroom.current_staff_id(), 'staff_updated', 'staff', member.id,
            jsonb_build_object('role', member.role, 'active', member.active),
            (select jsonb_build_object('role', role, 'active', active)
             from backroom.staff where id = member.id));
    return member.id;
end
$$;

create or replace function backroom.unlock_staff(p_email text) returns int
language plpgsql volatile security definer
set search_path = pg_catalog, backroom, backroom_private, pg_temp as $$
declare
    sid int;
    was timestamptz;
begin
    perform backroom.require_admin();
    select s.id, c.locked_until into sid, was
    from backroom.staff s left join backroom_private.credential c on c.staff_id = s.id
    where s.email = lower(btrim(p_email))
    for update of s;
    if sid is null then
        raise exception 'no staff member %', p_email using errcode = 'P0002';
    end if;
    update backroom_private.credential
    set locked_until = null, count_failures_from = clock_timestamp()
    where staff_id = sid;
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, before, after)
    values (backroom.current_staff_id(), 'staff_unlocked', 'staff', sid,
            jsonb_build_object('locked_until', was), jsonb_build_object('locked_until', null));
    return sid;
end
$$;

-- A new authenticator needs an account that has a password here.
create or replace function backroom.enrol_totp(p_email text, p_totp_secret bytea, p_code_hashes bytea[])
returns int
language plpgsql volatile security definer
set search_path = pg_catalog, backroom, backroom_private, pg_temp as $$
declare
    sid int;
begin
    perform backroom.require_admin();
    select id into sid from backroom.staff where email = lower(btrim(p_email));
    if sid is null then
        raise exception 'no staff member %', p_email using errcode = 'P0002';
    end if;
    update backroom_private.credential
    set totp_secret = p_totp_secret, totp_last_step = 0, must_reenrol = false
    where staff_id = sid;
    if not found then
        raise exception '% has no password yet', p_email using errcode = '55000';
    end if;
    perform backroom_private.replace_recovery_codes(sid, p_code_hashes);
    update backroom_private.session set ended_at = clock_timestamp(), ended_why = 're-enrolled'
    where staff_id = sid and ended_at is null;
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
    values (backroom.current_staff_id(), 'totp_reset', 'staff', sid,
            jsonb_build_object('email', lower(btrim(p_email))));
    return sid;
end
$$;

-- Locking and leaving are recorded -------------------------------------------------
create or replace function backroom.lock_session() returns void
language plpgsql volatile security definer
set search_path = pg_catalog, backroom, backroom_private, pg_temp as $$
declare
    sess backroom_private.session := backroom_private.presented_session();
begin
    if sess.token_hash is null or sess.locked then
        return;
    end if;
    update backroom_private.session set locked = true where token_hash = sess.token_hash;
    insert into backroom.audit_log (staff_id, operation, entity, entity_id)
    values (sess.staff_id, 'lock', 'staff', sess.staff_id);
end
$$;

create or replace function backroom.end_session(p_why text default 'signed_out') returns void
language plpgsql volatile security definer
set search_path = pg_catalog, backroom, backroom_private, pg_temp as $$
declare
    sess backroom_private.session := backroom_private.presented_session();
    why text := case when p_why in ('signed_out', 'handover', 'closed', 'idle') then p_why
                     else 'signed_out' end;
begin
    if sess.token_hash is null then
        return;
    end if;
    update backroom_private.session set ended_at = clock_timestamp(), ended_why = why
    where token_hash = sess.token_hash;
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
    values (sess.staff_id, 'sign_out', 'staff', sess.staff_id, jsonb_build_object('reason', why));
end
$$;

-- A console leaves the roster on the connection it announced itself on, also
-- once the session it announced with has ended (signed out, locked).
create or replace function backroom.presence_leave(p_console uuid) returns void
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
begin
    delete from backroom.presence
    where console_id = p_console
      and (staff_id = backroom.current_staff_id() or backend_pid = pg_backend_pid());
    if found then
        perform pg_notify('backroom_presence', p_console::text);
    end if;
end
$$;

-- The console's own sign-in check goes ------------------------------------------------
drop function backroom.staff_credentials(text);
drop function backroom.take_totp_step(int, bigint);
drop function backroom.take_recovery_code(int, text);
drop function backroom.record_sign_in(int, text, boolean, text);
drop function backroom.record_step_up(int);
drop function backroom.save_staff(text, text, text, text, bytea, text[]);
drop function backroom.reset_totp(text, bytea, text[]);
drop function backroom.sign_in_failures(text);
drop function backroom.sign_in_key(text);
drop table backroom.staff_recovery_code;
drop table backroom.sign_in_attempt;
alter table backroom.staff
    drop column password_hash,
    drop column totp_secret,
    drop column totp_last_step,
    drop column must_reenrol,
    drop column locked_until,
    drop column stepped_up_at,
    drop column count_failures_from;

select backroom_meta.apply_session_identity();

-- The console's own login, and rules that hold whatever role a connection takes.
--
-- Consoles connect as <database>_login: a login that is a member of
-- backroom_console and of nothing else, so RESET ROLE (or SET ROLE NONE)
-- gives it no more than the console role has. The owner's credential is for
-- migrations and first set-up only. `backroom db console-url` prints the
-- address a console uses; its password is kept where only the owner reads it.
--
-- The door's limits and the step-up used to apply only while the current role
-- was backroom_console, so a console login that skipped SET ROLE escaped them.
-- They now apply to everyone but the owner connected as itself.

-- The console's own login -------------------------------------------------------
-- Consoles connect as <database>_login: a member of backroom_console and of
-- nothing else, so RESET ROLE gives it no more than SET ROLE does. Its password
-- is kept for `backroom db console-url`, where only the owner can read it.
create table backroom_meta.console_login (
    only_one boolean primary key default true check (only_one),
    rolname  text not null,
    password text not null
);
revoke all on backroom_meta.console_login from public;

-- 64 hex digits from two random UUIDs: 244 random bits, from the server's strong source.
create function backroom_private.random_token() returns text
language sql volatile set search_path = pg_catalog, pg_temp as $$
    select encode(sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())), 'hex')
$$;
revoke all on function backroom_private.random_token() from public;

create function backroom_meta.ensure_console_login() returns text
language plpgsql volatile set search_path = pg_catalog, backroom_private, pg_temp as $$
declare
    wanted text := left(current_database(), 50) || '_login';
    known backroom_meta.console_login := (select l from backroom_meta.console_login l);
    password text;
    salt bytea := sha256(uuid_send(gen_random_uuid()));
    salted bytea;
begin
    if known.rolname is not null and exists (select from pg_roles where rolname = known.rolname) then
        return known.rolname;
    end if;
    password := backroom_private.random_token();
    -- A SCRAM verifier, so the password itself never appears in a statement.
    salted := backroom_private.pbkdf2_sha256(convert_to(password, 'UTF8'), salt, 4096);
    if not exists (select from pg_roles where rolname = wanted) then
        execute format('create role %I login inherit nosuperuser nocreatedb nocreaterole nobypassrls '
                       'noreplication', wanted);
    end if;
    execute format('alter role %I password %L', wanted,
                   'SCRAM-SHA-256$4096:' || encode(salt, 'base64') || '$'
                   || encode(sha256(backroom_private.hmac(salted, 'Client Key', 'sha256')), 'base64') || ':'
                   || encode(backroom_private.hmac(salted, 'Server Key', 'sha256'), 'base64'));
    execute format('grant backroom_console to %I', wanted);
    execute format('grant connect on database %I to %I', current_database(), wanted);
    delete from backroom_meta.console_login;
    insert into backroom_meta.console_login (rolname, password) values (wanted, password);
    return wanted;
end
$$;
revoke all on function backroom_meta.ensure_console_login() from public;
select backroom_meta.ensure_console_login();

create function backroom_meta.apply_console_rules() returns void
language plpgsql set search_path = pg_catalog as $fn$
begin
    -- pg_temp last on every definer, also on those enable_supabase() has just made.
    perform backroom_meta.put_pg_temp_last();

    -- It only tells the caller about itself.
    grant execute on function backroom.acting_as_owner() to backroom_console;
    if exists (select from pg_roles where rolname = 'authenticated') then
        grant execute on function backroom.acting_as_owner() to authenticated;
    end if;

    -- Whatever role the connection has taken: door staff are door staff.
    create or replace function backroom.door_changes_only() returns trigger
    language plpgsql set search_path = pg_catalog, backroom, pg_temp as $b$
    begin
        if backroom.current_staff_role() = 'door'
           and (new.party_size, new.starts_at, new.ends_at, new.deposit, new.deposit_paid,
                new.min_spend, new.notes, new.guest_id, new.cancel_reason)
               is distinct from
               (old.party_size, old.starts_at, old.ends_at, old.deposit, old.deposit_paid,
                old.min_spend, old.notes, old.guest_id, old.cancel_reason) then
            raise exception 'door staff may check guests in and mark no-shows, nothing else'
                using errcode = '42501';
        end if;
        return new;
    end
    $b$;

    -- Only the owner, connected as itself, cancels a paid booking without a step-up.
    create or replace function backroom.require_step_up() returns trigger
    language plpgsql set search_path = pg_catalog, backroom, pg_temp as $b$
    begin
        if new.status = 'cancelled' and old.status <> 'cancelled' and old.deposit > 0
           and not backroom.acting_as_owner() and not backroom.stepped_up_recently() then
            raise exception 'cancelling booking % with a deposit needs a fresh code', old.ref
                using errcode = 'BR010';
        end if;
        return new;
    end
    $b$;
end
$fn$;
revoke all on function backroom_meta.apply_console_rules() from public;
select backroom_meta.apply_console_rules();

-- enable_supabase() of 0006 sets these rules its own way: apply ours after it.
alter function backroom_meta.enable_supabase() rename to enable_supabase_parts;
create function backroom_meta.enable_supabase() returns text[]
language plpgsql set search_path = pg_catalog as $fn$
declare
    done text[] := backroom_meta.enable_supabase_parts();
begin
    perform backroom_meta.apply_console_rules();
    return done;
end
$fn$;
revoke all on function backroom_meta.enable_supabase(), backroom_meta.enable_supabase_parts()
    from public;


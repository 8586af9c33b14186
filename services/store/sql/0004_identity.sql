-- Staff identity: credentials, sign-in attempts, recovery codes, and Row
-- Level Security that uses the signed-in staff member's role.
--
-- Every console transaction carries the staff id (backroom.staff_id); the
-- policies below read the role from it, so a wrong check in Python is
-- refused again here.

alter table backroom.staff
    add column password_hash  text,
    add column totp_secret    bytea,
    add column totp_last_step bigint not null default 0,
    add column must_reenrol   boolean not null default false,
    add column locked_until   timestamptz;

comment on column backroom.staff.totp_secret is
    'The TOTP secret, encrypted by the console with the venue key; never stored plain.';

-- The console reads who staff are, never their credentials.
revoke select on backroom.staff from backroom_console;
grant select (id, email, display_name, role, active, created_at) on backroom.staff to backroom_console;

create table backroom.staff_recovery_code (
    staff_id  int not null references backroom.staff(id) on delete cascade,
    code_hash text not null,
    used_at   timestamptz,
    primary key (staff_id, code_hash)
);
alter table backroom.staff_recovery_code enable row level security;

create table backroom.sign_in_attempt (
    id       bigint generated always as identity primary key,
    staff_id int references backroom.staff(id) on delete cascade,
    email    text not null,
    at       timestamptz not null default clock_timestamp(),
    ok       boolean not null,
    reason   text not null
);
create index sign_in_attempt_idx on backroom.sign_in_attempt (email, at);
alter table backroom.sign_in_attempt enable row level security;

create function backroom.current_staff_role() returns text
language sql stable security definer set search_path = pg_catalog, backroom as $$
    select role from backroom.staff where id = backroom.current_staff_id() and active
$$;
grant execute on function backroom.current_staff_role() to backroom_console;

-- Credentials for the sign-in check, which the console (the trusted
-- application) does in Python: argon2 for the password, the venue key for
-- the TOTP secret.
create function backroom.staff_credentials(p_email text)
returns table (id int, display_name text, role text, active boolean, password_hash text,
               totp_secret bytea, totp_last_step bigint, must_reenrol boolean,
               locked_until timestamptz, recent_failures int, last_failure_at timestamptz,
               now timestamptz)
language sql stable security definer set search_path = pg_catalog, backroom as $$
    with failures as (
        select count(*)::int as n, max(a.at) as last_at from backroom.sign_in_attempt a
        where a.email = lower(p_email) and not a.ok
          and a.at > clock_timestamp() - interval '15 minutes'
          and a.at > coalesce((select max(b.at) from backroom.sign_in_attempt b
                               where b.email = lower(p_email) and b.ok), '-infinity')
    )
    select s.id, s.display_name, s.role, s.active, s.password_hash, s.totp_secret,
           s.totp_last_step, s.must_reenrol, s.locked_until, f.n, f.last_at, clock_timestamp()
    from failures f left join backroom.staff s on s.email = lower(p_email)
$$;

-- A TOTP time step is accepted once, on every console: only a step later
-- than the last one used can be taken, and taking it is atomic.
create function backroom.take_totp_step(p_staff int, p_step bigint) returns boolean
language sql volatile security definer set search_path = pg_catalog, backroom as $$
    with taken as (
        update backroom.staff set totp_last_step = p_step
        where id = p_staff and totp_last_step < p_step
        returning 1
    )
    select exists (select from taken)
$$;

create function backroom.take_recovery_code(p_staff int, p_code_hash text) returns boolean
language sql volatile security definer set search_path = pg_catalog, backroom as $$
    with used as (
        update backroom.staff_recovery_code set used_at = clock_timestamp()
        where staff_id = p_staff and code_hash = p_code_hash and used_at is null
        returning 1
    ), flagged as (
        update backroom.staff set must_reenrol = true
        where id = p_staff and exists (select from used)
        returning 1
    )
    select exists (select from used)
$$;

-- Records an attempt (never a secret), audits it, and locks the account for
-- 15 minutes after ten failures in 15 minutes.
create function backroom.record_sign_in(p_staff int, p_email text, p_ok boolean, p_reason text)
returns timestamptz
language plpgsql volatile security definer set search_path = pg_catalog, backroom as $$
declare
    failures int;
    lock_until timestamptz;
begin
    insert into backroom.sign_in_attempt (staff_id, email, ok, reason)
    values (p_staff, lower(p_email), p_ok, p_reason);
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
    values (p_staff, case when p_ok then 'sign_in' else 'sign_in_failed' end, 'staff', p_staff,
            jsonb_build_object('email', lower(p_email), 'reason', p_reason));
    if p_ok or p_staff is null then
        return null;
    end if;
    select count(*) into failures from backroom.sign_in_attempt
    where email = lower(p_email) and not ok and at > clock_timestamp() - interval '15 minutes'
      and at > coalesce((select max(at) from backroom.sign_in_attempt
                         where email = lower(p_email) and ok), '-infinity');
    if failures >= 10 then
        lock_until := clock_timestamp() + interval '15 minutes';
        update backroom.staff set locked_until = lock_until where id = p_staff;
        insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
        values (p_staff, 'account_locked', 'staff', p_staff,
                jsonb_build_object('until', lock_until, 'failures', failures));
        return lock_until;
    end if;
    return null;
end
$$;

grant execute on function backroom.staff_credentials(text), backroom.take_totp_step(int, bigint),
    backroom.take_recovery_code(int, text), backroom.record_sign_in(int, text, boolean, text)
    to backroom_console;

-- Staff management: by an admin through the console role, or by the owner
-- of the schema connected directly (first set-up, the `backroom staff` CLI).
create function backroom.require_admin() returns void
language plpgsql stable security definer set search_path = pg_catalog, backroom as $$
begin
    if current_setting('role') = 'none' and pg_has_role(
        session_user, (select nspowner from pg_namespace where nspname = 'backroom'), 'member') then
        return;
    end if;
    if backroom.current_staff_role() is distinct from 'admin' then
        raise exception 'only an admin may manage staff' using errcode = '42501';
    end if;
end
$$;

create function backroom.save_staff(p_email text, p_name text, p_role text, p_password_hash text,
                                    p_totp_secret bytea, p_code_hashes text[])
returns int
language plpgsql volatile security definer set search_path = pg_catalog, backroom as $$
declare
    sid int;
begin
    perform backroom.require_admin();
    insert into backroom.staff (email, display_name, role, password_hash, totp_secret)
    values (lower(p_email), p_name, p_role, p_password_hash, p_totp_secret)
    on conflict (email) do update
        set display_name = excluded.display_name, role = excluded.role,
            password_hash = excluded.password_hash, totp_secret = excluded.totp_secret,
            totp_last_step = 0, must_reenrol = false, locked_until = null, active = true
    returning id into sid;
    delete from backroom.staff_recovery_code where staff_id = sid;
    insert into backroom.staff_recovery_code (staff_id, code_hash)
    select sid, h from unnest(p_code_hashes) as h;
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
    values (backroom.current_staff_id(), 'staff_saved', 'staff', sid,
            jsonb_build_object('email', lower(p_email), 'role', p_role));
    return sid;
end
$$;

create function backroom.reset_totp(p_email text, p_totp_secret bytea, p_code_hashes text[])
returns int
language plpgsql volatile security definer set search_path = pg_catalog, backroom as $$
declare
    sid int;
begin
    perform backroom.require_admin();
    update backroom.staff set totp_secret = p_totp_secret, totp_last_step = 0, must_reenrol = false
    where email = lower(p_email) returning id into sid;
    if sid is null then
        raise exception 'no staff member %', p_email using errcode = 'P0002';
    end if;
    delete from backroom.staff_recovery_code where staff_id = sid;
    insert into backroom.staff_recovery_code (staff_id, code_hash)
    select sid, h from unnest(p_code_hashes) as h;
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
    values (backroom.current_staff_id(), 'totp_reset', 'staff', sid,
            jsonb_build_object('email', lower(p_email)));
    return sid;
end
$$;

create function backroom.update_staff(p_email text, p_role text, p_active boolean) returns int
language plpgsql volatile security definer set search_path = pg_catalog, backroom as $$
declare
    sid int;
    before_row jsonb;
begin
    perform backroom.require_admin();
    select id, jsonb_build_object('role', role, 'active', active) into sid, before_row
    from backroom.staff where email = lower(p_email);
    if sid is null then
        raise exception 'no staff member %', p_email using errcode = 'P0002';
    end if;
    update backroom.staff set role = coalesce(p_role, role), active = coalesce(p_active, active),
           locked_until = case when p_active then null else locked_until end
    where id = sid;
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, before, after)
    values (backroom.current_staff_id(), 'staff_updated', 'staff', sid, before_row,
            (select jsonb_build_object('role', role, 'active', active)
             from backroom.staff where id = sid));
    return sid;
end
$$;

grant execute on function backroom.save_staff(text, text, text, text, bytea, text[]),
    backroom.reset_totp(text, bytea, text[]), backroom.update_staff(text, text, boolean)
    to backroom_console;

-- Expiry is the system's own work, whoever's console runs it: sweeping, and
-- clearing a lapsed hold (anyone's) before a new hold on the same table.
alter function backroom.sweep() security definer set search_path = pg_catalog, backroom;
alter function backroom.hold_before_insert() security definer set search_path = pg_catalog, backroom;

-- Role-aware policies replace the console-wide ones ---------------------------

drop policy console_insert on backroom.guest;
drop policy console_update on backroom.guest;
drop policy console_insert on backroom.booking;
drop policy console_update on backroom.booking;
drop policy console_insert on backroom.booking_table;
drop policy console_update on backroom.booking_table;
drop policy console_delete on backroom.booking_table;
drop policy console_insert on backroom.hold;
drop policy console_update on backroom.hold;
drop policy console_delete on backroom.hold;
drop policy console_insert on backroom.operation;
drop policy console_update on backroom.operation;
drop policy console_insert on backroom.waitlist_entry;
drop policy console_update on backroom.waitlist_entry;

-- door: check in, seat walk-ins (a booking that starts arrived), mark no-shows.
-- manager and admin: every booking operation. support: nothing.
create policy staff_insert on backroom.guest for insert to backroom_console
    with check (backroom.current_staff_role() in ('door', 'manager', 'admin'));
create policy staff_update on backroom.guest for update to backroom_console
    using (backroom.current_staff_role() in ('manager', 'admin'));

create policy staff_insert on backroom.booking for insert to backroom_console
    with check (backroom.current_staff_role() in ('manager', 'admin')
                or (backroom.current_staff_role() = 'door' and status = 'arrived'));
create policy staff_update on backroom.booking for update to backroom_console
    using (backroom.current_staff_role() in ('door', 'manager', 'admin'))
    with check (backroom.current_staff_role() in ('manager', 'admin')
                or (backroom.current_staff_role() = 'door' and status in ('arrived', 'no_show')));

create policy staff_insert on backroom.booking_table for insert to backroom_console
    with check (backroom.current_staff_role() in ('door', 'manager', 'admin'));
create policy staff_update on backroom.booking_table for update to backroom_console
    using (backroom.current_staff_role() in ('door', 'manager', 'admin'));
create policy staff_delete on backroom.booking_table for delete to backroom_console
    using (backroom.current_staff_role() in ('manager', 'admin'));

create policy staff_insert on backroom.hold for insert to backroom_console
    with check (backroom.current_staff_role() in ('manager', 'admin')
                and staff_id = backroom.current_staff_id());
create policy staff_update on backroom.hold for update to backroom_console
    using (backroom.current_staff_role() in ('manager', 'admin') and staff_id = backroom.current_staff_id());
create policy staff_delete on backroom.hold for delete to backroom_console
    using (backroom.current_staff_role() in ('manager', 'admin') and staff_id = backroom.current_staff_id());

create policy staff_insert on backroom.operation for insert to backroom_console
    with check (backroom.current_staff_role() in ('door', 'manager', 'admin')
                and staff_id = backroom.current_staff_id());
create policy staff_update on backroom.operation for update to backroom_console
    using (staff_id = backroom.current_staff_id());

create policy staff_insert on backroom.waitlist_entry for insert to backroom_console
    with check (backroom.current_staff_role() in ('manager', 'admin'));
create policy staff_update on backroom.waitlist_entry for update to backroom_console
    using (backroom.current_staff_role() in ('manager', 'admin'));

-- Door staff may move a booking only along their own jobs: the status and the
-- count of arrivals, nothing else (party, time, tables, deposit stay as they are).
create function backroom.door_changes_only() returns trigger
language plpgsql as $$
begin
    if current_user = 'backroom_console' and backroom.current_staff_role() = 'door'
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
$$;

create trigger booking_door_changes_only
    before update on backroom.booking
    for each row execute function backroom.door_changes_only();

-- Functions are executable by PUBLIC unless said otherwise: these are for
-- the console role only.
revoke execute on function backroom.current_staff_role(), backroom.staff_credentials(text),
    backroom.take_totp_step(int, bigint), backroom.take_recovery_code(int, text),
    backroom.record_sign_in(int, text, boolean, text), backroom.require_admin(),
    backroom.save_staff(text, text, text, text, bytea, text[]),
    backroom.reset_totp(text, bytea, text[]), backroom.update_staff(text, text, boolean),
    backroom.sweep()
    from public;
grant execute on function backroom.current_staff_role(), backroom.sweep() to backroom_console;

-- Step-up: cancelling a booking that has a deposit needs a code entered in
-- the last two minutes, checked here as well as in the console.
alter table backroom.staff add column stepped_up_at timestamptz;

create function backroom.record_step_up(p_staff int) returns void
language sql volatile security definer set search_path = pg_catalog, backroom as $$
    update backroom.staff set stepped_up_at = clock_timestamp() where id = p_staff
$$;

create function backroom.stepped_up_recently() returns boolean
language sql stable security definer set search_path = pg_catalog, backroom as $$
    select coalesce((select stepped_up_at > clock_timestamp() - interval '2 minutes'
                     from backroom.staff where id = backroom.current_staff_id()), false)
$$;

revoke execute on function backroom.record_step_up(int), backroom.stepped_up_recently() from public;
grant execute on function backroom.record_step_up(int), backroom.stepped_up_recently()
    to backroom_console;

create function backroom.require_step_up() returns trigger
language plpgsql as $$
begin
    if current_user = 'backroom_console' and new.status = 'cancelled' and old.status <> 'cancelled'
       and old.deposit > 0 and not backroom.stepped_up_recently() then
        raise exception 'cancelling booking % with a deposit needs a fresh code', old.ref
            using errcode = 'BR010';
    end if;
    return new;
end
$$;

create trigger booking_require_step_up
    before update on backroom.booking
    for each row execute function backroom.require_step_up();

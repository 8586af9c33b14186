-- Hardening: what a console's credential alone could do, and may no longer.
--
-- New refusals:
--   BR011 an audit operation the database does not know, or one that is not
--         the change being made (a cancellation cannot be recorded as expire)
--   BR012 a booking's reference never changes
--   BR013 a hold is only ever renewed: its table, night, span and holder stay
-- A hold outside its night is refused with BR003, like a booking.

-- Input limits ------------------------------------------------------------------
-- The same limits as services/guests.py. Rows written before these existed are
-- checked where possible; a venue with older, longer values keeps them until
-- they are next changed.

do $$
declare
    c record;
begin
    for c in
        select * from (values
            ('guest', 'guest_name_limits',
             'length(name) <= 120 and name !~ ''[[:cntrl:]\u0080-\u009f]'''),
            ('guest', 'guest_phone_limits',
             'phone is null or (length(phone) <= 40 and phone !~ ''[[:cntrl:]\u0080-\u009f]'')'),
            ('guest', 'guest_email_limits',
             'email is null or (length(email) <= 254 and email !~ ''[[:cntrl:]\u0080-\u009f]'')'),
            ('guest', 'guest_notes_limits', 'length(notes) <= 500'),
            ('booking', 'booking_notes_limits', 'length(notes) <= 500'),
            ('booking', 'booking_cancel_reason_limits',
             'cancel_reason is null or length(cancel_reason) <= 300'),
            ('waitlist_entry', 'waitlist_notes_limits', 'length(notes) <= 500'),
            ('hold', 'hold_holder_limits',
             'length(holder) <= 120 and holder !~ ''[[:cntrl:]\u0080-\u009f]'''),
            ('staff', 'staff_display_name_limits',
             'length(btrim(display_name)) > 0 and length(display_name) <= 120'
             ' and display_name !~ ''[[:cntrl:]\u0080-\u009f]'''),
            ('staff', 'staff_email_limits',
             'length(email) <= 254 and email !~ ''[[:cntrl:]\u0080-\u009f]''')
        ) as t(tbl, name, expr)
    loop
        execute format('alter table backroom.%I add constraint %I check (%s) not valid',
                       c.tbl, c.name, c.expr);
        begin
            execute format('alter table backroom.%I validate constraint %I', c.tbl, c.name);
        exception when check_violation then
            raise notice 'backroom.% has rows outside %: checked from now on', c.tbl, c.name;
        end;
    end loop;
end
$$;

-- Who may name the operation of an audit row ----------------------------------------
-- `backroom.op` is set by the client, so the audit trigger takes it only from
-- this closed list, and only for the change it names.
--   console   a console operation (services/bookings.py, services/identity.py)
--   generic   the statement itself, when no operation is named
--   owner     the schema owner's own work (seeding)
--   function  written by a function of this schema itself, never taken from backroom.op
-- `reaches`: the status a booking's change under this operation must reach;
-- a booking's status moves only under the operation that reaches it.

create table backroom.audit_operation (
    name    text primary key,
    kind    text not null check (kind in ('console', 'generic', 'owner', 'function')),
    reaches text references backroom.booking_status(status)
);
insert into backroom.audit_operation (name, kind, reaches) values
    ('create', 'console', null),
    ('seat_walk_in', 'console', null),
    ('amend', 'console', null),
    ('move', 'console', null),
    ('confirm', 'console', 'confirmed'),
    ('check_in', 'console', 'arrived'),
    ('cancel', 'console', 'cancelled'),
    ('no_show', 'console', 'no_show'),
    ('complete', 'console', 'completed'),
    ('expire', 'console', 'expired'),
    ('hold', 'console', null),
    ('renew_hold', 'console', null),
    ('release_hold', 'console', null),
    ('waitlist_add', 'console', null),
    ('waitlist_offer', 'console', null),
    ('waitlist_book', 'console', null),
    ('waitlist_leave', 'console', null),
    ('manage_staff', 'console', null),
    ('insert', 'generic', null),
    ('update', 'generic', null),
    ('delete', 'generic', null),
    ('seed', 'owner', null),
    ('sign_in', 'function', null),
    ('sign_in_failed', 'function', null),
    ('account_locked', 'function', null),
    ('staff_saved', 'function', null),
    ('totp_reset', 'function', null),
    ('staff_updated', 'function', null),
    ('staff_unlocked', 'function', null),
    ('staff_linked', 'function', null);

alter table backroom.audit_operation enable row level security;
grant select on backroom.audit_operation to backroom_console;
create policy console_read on backroom.audit_operation for select to backroom_console using (true);

-- The schema owner connected as itself (migrations, seeding, first set-up),
-- as opposed to anyone acting as the console role.
create function backroom.acting_as_owner() returns boolean
language sql stable security definer set search_path = pg_catalog, backroom, pg_temp as $$
    select current_setting('role') = 'none' and pg_has_role(
        session_user, (select nspowner from pg_namespace where nspname = 'backroom'), 'member')
$$;
revoke all on function backroom.acting_as_owner() from public;

create function backroom.checked_operation(p_op text, p_table text, p_from text, p_to text)
returns text
language plpgsql stable security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    o backroom.audit_operation;
begin
    select * into o from backroom.audit_operation where name = p_op;
    if not found or o.kind = 'function' or (o.kind = 'owner' and not backroom.acting_as_owner()) then
        raise exception '% is not an operation this change can be recorded as', left(p_op, 60)
            using errcode = 'BR011', detail = json_build_object('operation', left(p_op, 60))::text;
    end if;
    if p_table = 'booking' then
        if (o.reaches is not null and o.reaches is distinct from p_to)
           or (o.kind = 'console' and p_from <> p_to and o.reaches is distinct from p_to) then
            raise exception 'a booking going from % to % cannot be recorded as %', p_from, p_to,
                left(p_op, 60)
                using errcode = 'BR011',
                      detail = json_build_object('operation', p_op, 'from', p_from, 'to', p_to)::text;
        end if;
    end if;
    return p_op;
end
$$;
revoke all on function backroom.checked_operation(text, text, text, text) from public;

-- One audit trigger for every table, now also for every update of the tables
-- a booking covers (a move by UPDATE was invisible before).
create or replace function backroom.audit() returns trigger
language plpgsql security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    before_row jsonb := case when tg_op in ('UPDATE', 'DELETE') then to_jsonb(old) end;
    after_row  jsonb := case when tg_op in ('INSERT', 'UPDATE') then to_jsonb(new) end;
    op         text;
begin
    op := backroom.checked_operation(
        coalesce(nullif(current_setting('backroom.op', true), ''), lower(tg_op)), tg_table_name,
        before_row->>'status', after_row->>'status');
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, op_id, before, after)
    values (
        backroom.current_staff_id(),
        op,
        tg_table_name,
        case tg_table_name
            when 'booking_table' then coalesce(after_row, before_row)->>'booking_id'
            else coalesce(after_row, before_row)->>'id' end::int,
        nullif(current_setting('backroom.op_id', true), '')::uuid,
        before_row,
        after_row
    );
    return null;
end
$$;

-- A refusal is recorded for the transaction's own staff member, under an
-- operation a console makes, and never as a blob of any size.
create or replace function backroom.log_refusal(operation text, entity text, entity_id int, op_id uuid,
                                                reason jsonb)
returns void
language plpgsql security definer set search_path = pg_catalog, backroom, pg_temp as $$
begin
    if backroom.current_staff_role() is null then
        raise exception 'a refusal is recorded for a signed-in staff member only' using errcode = '42501';
    end if;
    if not exists (select from backroom.audit_operation o
                   where o.name = log_refusal.operation and o.kind = 'console') then
        raise exception '% is not an operation a console makes', left(log_refusal.operation, 60)
            using errcode = 'BR011';
    end if;
    if log_refusal.entity not in ('booking', 'booking_table', 'hold', 'guest', 'waitlist_entry')
       or length(coalesce(log_refusal.reason::text, '')) > 4000 then
        raise exception 'not a refusal this database records' using errcode = '22023';
    end if;
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, op_id, before, after)
    values (backroom.current_staff_id(), 'refused:' || log_refusal.operation, log_refusal.entity,
            log_refusal.entity_id, log_refusal.op_id, null, log_refusal.reason);
end
$$;

-- Bookings ----------------------------------------------------------------------

create function backroom.booking_ref_fixed() returns trigger
language plpgsql as $$
begin
    raise exception 'booking % keeps its reference', old.ref
        using errcode = 'BR012', detail = json_build_object('ref', old.ref)::text;
end
$$;

create trigger booking_ref_fixed
    before update of ref on backroom.booking
    for each row when (new.ref is distinct from old.ref)
    execute function backroom.booking_ref_fixed();

-- A booking made by a signed-in staff member is theirs: the client does not
-- name its creator.
create function backroom.booking_created_by_signed_in() returns trigger
language plpgsql as $$
begin
    new.created_by := backroom.current_staff_id();
    new.updated_by := new.created_by;
    return new;
end
$$;

create trigger booking_created_by_signed_in
    before insert on backroom.booking
    for each row when (backroom.current_staff_id() is not null)
    execute function backroom.booking_created_by_signed_in();

-- The tables a booking covers -----------------------------------------------------
-- Door staff write no table of a booking except those of the walk-in they are
-- seating in this very transaction (services/bookings.py seat_walk_in inserts
-- the booking, then its table). A policy rather than a definer function: the
-- walk-in keeps the one path every booking takes, under every rule that path
-- has, and nothing runs with more rights than the door's.
-- Nobody updates a covered table: a move deletes and inserts (audited, announced);
-- only the copy of the booking's time and activity is kept in step, below.

revoke update on backroom.booking_table from backroom_console;
drop policy staff_insert on backroom.booking_table;
drop policy staff_update on backroom.booking_table;

create policy staff_insert on backroom.booking_table for insert to backroom_console
    with check (
        backroom.current_staff_role() in ('manager', 'admin')
        or (backroom.current_staff_role() = 'door' and exists (
            select from backroom.booking b
            where b.id = booking_id and b.status = 'arrived'
              and b.created_by = backroom.current_staff_id()
              -- created_at is the creating transaction's start: this transaction
              and b.created_at = now())));

-- The copy runs as the owner: door staff checking a party in or marking a
-- no-show write no table themselves. Rows already in step are left alone, so
-- every update of a covered table that is audited is a real change.
create or replace function backroom.booking_sync_tables() returns trigger
language plpgsql security definer set search_path = pg_catalog, backroom, pg_temp as $$
begin
    if new.starts_at <> old.starts_at or new.ends_at <> old.ends_at or new.status <> old.status then
        update backroom.booking_table bt
        set during = tstzrange(new.starts_at, new.ends_at, '[)'),
            active = s.active
        from backroom.booking_status s
        where bt.booking_id = new.id and s.status = new.status
          and (bt.during, bt.active) is distinct from (tstzrange(new.starts_at, new.ends_at, '[)'), s.active);
    end if;
    return null;
end
$$;

-- Announced on every change, as bookings are; a table given up by an update is
-- announced too, so both tiles redraw.
create or replace function backroom.notify_change() returns trigger
language plpgsql security definer set search_path = pg_catalog, backroom, pg_temp as $$
begin
    if tg_table_name = 'booking_table' and tg_op = 'UPDATE' then
        if old.table_id is distinct from new.table_id then
            perform pg_notify('backroom_changes',
                              backroom.change_payload(tg_table_name, 'DELETE', to_jsonb(old))::text);
        end if;
    end if;
    perform pg_notify('backroom_changes',
                      backroom.change_payload(tg_table_name, tg_op, to_jsonb(coalesce(new, old)))::text);
    return null;
end
$$;

drop trigger booking_table_notify on backroom.booking_table;
create trigger booking_table_notify after insert or update or delete on backroom.booking_table
    for each row execute function backroom.notify_change();

-- On a Supabase project (0006), the broadcast beside it follows the same events,
-- and API users keep the rights of the console role.
do $$
begin
    if exists (select from pg_trigger where tgname = 'booking_table_broadcast'
               and tgrelid = 'backroom.booking_table'::regclass) then
        drop trigger booking_table_broadcast on backroom.booking_table;
        create trigger booking_table_broadcast after insert or update or delete on backroom.booking_table
            for each row execute function backroom.broadcast_change();
    end if;
    if exists (select from pg_roles where rolname = 'authenticated')
       and to_regprocedure('auth.uid()') is not null then
        revoke update on backroom.booking_table from authenticated;
        alter policy staff_insert on backroom.booking_table to backroom_console, authenticated;
        -- What enable_supabase() gives every table the console reads.
        grant select on backroom.audit_operation to authenticated;
        create policy api_staff_read on backroom.audit_operation for select to authenticated
            using (backroom.current_staff_role() is not null);
    end if;
end
$$;

-- Holds ---------------------------------------------------------------------------
-- A hold lapses within ten minutes (the most venue.hold_seconds may be) of its
-- last renewal, and covers its night only.

create function backroom.hold_at_most() returns trigger
language plpgsql as $$
declare
    n backroom.night;
begin
    if tg_op = 'UPDATE' and (new.id, new.table_id, new.night_id, new.during, new.staff_id, new.holder,
                             new.created_at)
                            is distinct from
                            (old.id, old.table_id, old.night_id, old.during, old.staff_id, old.holder,
                             old.created_at) then
        raise exception 'a hold can only be renewed or released; hold the table again instead'
            using errcode = 'BR013';
    end if;
    if tg_op = 'INSERT' then
        select * into n from backroom.night where id = new.night_id;
        if found then
            new.during := new.during * tstzrange(n.starts_at, n.ends_at, '[)');
        end if;
        if not found or isempty(new.during) then
            raise exception 'a hold must lie within its night'
                using errcode = 'BR003',
                      detail = json_build_object('opens', n.starts_at, 'closes', n.ends_at)::text;
        end if;
    end if;
    -- None yet: hold_before_insert gives the venue's default, at most ten minutes.
    if new.expires_at is not null then
        new.expires_at := least(new.expires_at, clock_timestamp() + interval '10 minutes');
    end if;
    return new;
end
$$;

-- Before hold_before_insert (triggers fire in name order), so that its check
-- for bookings in the way looks at the night's span only.
create trigger hold_at_most
    before insert or update on backroom.hold
    for each row execute function backroom.hold_at_most();

-- Presence -------------------------------------------------------------------------
-- A console announces the transaction's own staff member, and nobody when
-- nobody is signed in: it takes no staff id, name or role from the client.

drop function backroom.presence_beat(uuid, int, text, text, text, int, smallint, smallint, float8);

create function backroom.presence_beat(
    p_console uuid, p_screen text, p_night int, p_selected smallint, p_held smallint,
    p_ttl float8 default 10
) returns boolean
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    me int := backroom.current_staff_id();
    who_name text;
    who_role text;
    ttl float8 := least(greatest(coalesce(p_ttl, 10), 2), 300);
    before backroom.presence;
    changed boolean;
    purged int;
begin
    if me is null then
        raise exception 'presence is announced by a signed-in staff member' using errcode = '42501';
    end if;
    select s.display_name, s.role into who_name, who_role
    from backroom.staff s where s.id = me and s.active;
    if not found then
        raise exception 'staff member % is not active', me using errcode = '42501';
    end if;

    select * into before from backroom.presence where console_id = p_console for update;
    if found and before.staff_id is distinct from me and before.backend_pid <> pg_backend_pid()
       and exists (select from pg_stat_activity a where a.pid = before.backend_pid) then
        raise exception 'that console is another staff member''s' using errcode = '42501';
    end if;
    if before.console_id is null then
        insert into backroom.presence (console_id, staff_id, staff_name, role, screen, night_id,
                                       selected_table, held_table, backend_pid)
        values (p_console, me, who_name, who_role, p_screen, p_night, p_selected, p_held,
                pg_backend_pid());
        changed := true;
    else
        changed := (before.staff_id, before.staff_name, before.role, before.screen, before.night_id,
                    before.selected_table, before.held_table, before.backend_pid)
                   is distinct from
                   (me, who_name, who_role, p_screen, p_night, p_selected, p_held, pg_backend_pid())
                   -- a row the others had already dropped comes back
                   or before.last_seen < clock_timestamp() - make_interval(secs => ttl);
        update backroom.presence
        set staff_id = me, staff_name = who_name, role = who_role, screen = p_screen,
            night_id = p_night, selected_table = p_selected, held_table = p_held,
            backend_pid = pg_backend_pid(), last_seen = clock_timestamp()
        where console_id = p_console;
    end if;

    -- Clear consoles that are gone; skip rows another beat is clearing now.
    delete from backroom.presence
    where console_id in (
        select p.console_id from backroom.presence p
        where p.console_id <> p_console
          and (p.last_seen < clock_timestamp() - make_interval(secs => ttl)
               or not exists (select from pg_stat_activity a where a.pid = p.backend_pid))
        for update skip locked);
    get diagnostics purged = row_count;

    if changed or purged > 0 then
        perform pg_notify('backroom_presence', p_console::text);
    end if;
    return changed;
end
$$;
revoke all on function backroom.presence_beat(uuid, text, int, smallint, smallint, float8) from public;
grant execute on function backroom.presence_beat(uuid, text, int, smallint, smallint, float8)
    to backroom_console;

-- Only the staff member a console announced says its goodbye.
create or replace function backroom.presence_leave(p_console uuid) returns void
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
begin
    delete from backroom.presence
    where console_id = p_console and staff_id = backroom.current_staff_id();
    if found then
        perform pg_notify('backroom_presence', p_console::text);
    end if;
end
$$;

-- Sign-in attempts ---------------------------------------------------------------------
-- What an unknown email was is never kept: people type passwords into the
-- email field. Its attempts are counted under a hash, so an unknown email is
-- throttled exactly like a known one and nothing tells them apart.

create function backroom.sign_in_key(p_email text) returns text
language sql stable security definer set search_path = pg_catalog, backroom, pg_temp as $$
    select case when exists (select from backroom.staff where email = lower(p_email))
                then lower(p_email)
                else 'sha256:' || encode(sha256(convert_to(lower(p_email), 'UTF8')), 'hex') end
$$;
revoke all on function backroom.sign_in_key(text) from public;

-- Failures before this moment no longer count towards a lock: set when a lock
-- is set and when an admin unlocks, so neither attempts made while locked nor
-- the ones that caused the lock push it further on.
alter table backroom.staff add column count_failures_from timestamptz;

create function backroom.sign_in_failures(p_email text)
returns table (n int, last_at timestamptz)
language sql stable security definer set search_path = pg_catalog, backroom, pg_temp as $$
    select count(*)::int, max(a.at) from backroom.sign_in_attempt a
    where a.email = backroom.sign_in_key(p_email) and not a.ok and a.reason <> 'locked'
      and a.at > clock_timestamp() - interval '15 minutes'
      and a.at > coalesce((select max(b.at) from backroom.sign_in_attempt b
                           where b.email = backroom.sign_in_key(p_email) and b.ok), '-infinity')
      and a.at > coalesce((select s.count_failures_from from backroom.staff s
                           where s.email = lower(p_email)), '-infinity')
$$;
revoke all on function backroom.sign_in_failures(text) from public;

create or replace function backroom.staff_credentials(p_email text)
returns table (id int, display_name text, role text, active boolean, password_hash text,
               totp_secret bytea, totp_last_step bigint, must_reenrol boolean,
               locked_until timestamptz, recent_failures int, last_failure_at timestamptz,
               now timestamptz)
language sql stable security definer set search_path = pg_catalog, backroom, pg_temp as $$
    select s.id, s.display_name, s.role, s.active, s.password_hash, s.totp_secret,
           s.totp_last_step, s.must_reenrol, s.locked_until, f.n, f.last_at, clock_timestamp()
    from backroom.sign_in_failures(p_email) f left join backroom.staff s on s.email = lower(p_email)
$$;

create or replace function backroom.record_sign_in(p_staff int, p_email text, p_ok boolean, p_reason text)
returns timestamptz
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    known int := (select s.id from backroom.staff s where s.email = lower(p_email));
    failures int;
    lock_until timestamptz;
    locked timestamptz;
begin
    if p_reason is null or p_reason !~ '^[a-z_:]{1,40}$' or p_staff is distinct from known
       and p_staff is not null then
        raise exception 'not a sign-in attempt this database records' using errcode = '22023';
    end if;
    insert into backroom.sign_in_attempt (staff_id, email, ok, reason)
    values (p_staff, backroom.sign_in_key(p_email), p_ok, p_reason);
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
    values (p_staff, case when p_ok then 'sign_in' else 'sign_in_failed' end, 'staff', p_staff,
            case when p_staff is null then jsonb_build_object('reason', p_reason)
                 else jsonb_build_object('email', lower(p_email), 'reason', p_reason) end);
    if p_ok or p_staff is null then
        return null;
    end if;
    select s.locked_until into locked from backroom.staff s where s.id = p_staff for update;
    if locked > clock_timestamp() then
        return locked;
    end if;
    select f.n into failures from backroom.sign_in_failures(p_email) f;
    if failures >= 10 then
        lock_until := clock_timestamp() + interval '15 minutes';
        update backroom.staff set locked_until = lock_until, count_failures_from = clock_timestamp()
        where id = p_staff;
        insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
        values (p_staff, 'account_locked', 'staff', p_staff,
                jsonb_build_object('until', lock_until, 'failures', failures));
        return lock_until;
    end if;
    return null;
end
$$;

-- What was recorded of unknown emails before: only the hash is kept, and the
-- audit rows keep the reason alone.
update backroom.sign_in_attempt a
set email = 'sha256:' || encode(sha256(convert_to(a.email, 'UTF8')), 'hex')
where a.email not like 'sha256:%'
  and not exists (select from backroom.staff s where s.email = a.email);
update backroom.audit_log
set after = after - 'email'
where operation = 'sign_in_failed' and entity_id is null and after ? 'email';

create function backroom.unlock_staff(p_email text) returns int
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    sid int;
    was timestamptz;
begin
    perform backroom.require_admin();
    select id, locked_until into sid, was from backroom.staff where email = lower(p_email) for update;
    if sid is null then
        raise exception 'no staff member %', p_email using errcode = 'P0002';
    end if;
    update backroom.staff set locked_until = null, count_failures_from = clock_timestamp()
    where id = sid;
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, before, after)
    values (backroom.current_staff_id(), 'staff_unlocked', 'staff', sid,
            jsonb_build_object('locked_until', was), jsonb_build_object('locked_until', null));
    return sid;
end
$$;
revoke all on function backroom.unlock_staff(text) from public;
grant execute on function backroom.unlock_staff(text) to backroom_console;

-- Definer functions ---------------------------------------------------------------------
-- pg_temp last, everywhere: otherwise a caller's temporary objects come first
-- and a definer function runs them with its owner's rights.

create function backroom_meta.put_pg_temp_last() returns void
language plpgsql set search_path = pg_catalog as $$
declare
    f regprocedure;
begin
    for f in
        select p.oid::regprocedure from pg_proc p
        where p.prosecdef and p.pronamespace in (select oid from pg_namespace
                                                 where nspname in ('backroom', 'backroom_meta'))
          and not exists (select from unnest(p.proconfig) c where c like 'search_path=%pg_temp')
    loop
        execute format('alter function %s set search_path = pg_catalog, backroom, pg_temp', f);
    end loop;
end
$$;
revoke all on function backroom_meta.put_pg_temp_last() from public;
select backroom_meta.put_pg_temp_last();

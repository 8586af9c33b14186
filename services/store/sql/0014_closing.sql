-- Closing what a console's credential, or a signed-in session, could still do.
--
-- 1. Reads need a signed-in staff member. Every table of the schema was readable
--    by the console role with no session at all (`console_read ... using (true)`):
--    anyone holding a console's credential read the staff list, every guest's
--    name and phone, every booking and the whole audit trail. Each read policy of
--    the console role (and of Supabase's `authenticated`, where it exists) now
--    requires `(select backroom.current_staff_id()) is not null`: a live, unlocked
--    session, or for API users a linked active staff member. The `(select ...)`
--    form is evaluated once per statement, not once per row. It is part of
--    apply_console_rules(), so `backroom supabase enable` keeps it.
--
-- 2. The step-up could be stepped around. Cancelling a booking that has a
--    deposit needs a fresh code, but a manager's session could first set the
--    deposit to 0 (or mark it unpaid) with no code, then cancel with none. Giving
--    up a deposit, lowering it or marking it unpaid, now needs the same step-up
--    as the cancellation (BR010). Taking a deposit, or raising it, does not.
--
-- 3. Support is read only in the database too. A support session could update
--    operation rows that named it; the update policy now asks for a role that
--    writes operations (door, manager, admin), as the insert policy does.
--
-- 4. A waitlist entry names its real creator. `created_by` was whatever the
--    client wrote, so a manager could enter a party as a colleague's; with a
--    session it is now the session's staff member, and it never changes after,
--    as for bookings (0009).

-- Rules applied again by enable_supabase() ---------------------------------------------
-- As in 0010, with the deposit guard of the step-up and the session needed for reads.
create or replace function backroom_meta.apply_console_rules() returns void
language plpgsql set search_path = pg_catalog as $fn$
declare
    pol record;
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

    -- Only the owner, connected as itself, gives up a deposit without a step-up: by
    -- cancelling the booking, by lowering the deposit, or by marking it unpaid.
    create or replace function backroom.require_step_up() returns trigger
    language plpgsql set search_path = pg_catalog, backroom, pg_temp as $b$
    declare
        cancelling boolean := new.status = 'cancelled' and old.status <> 'cancelled';
    begin
        if old.deposit > 0
           and (cancelling or new.deposit < old.deposit
                or (old.deposit_paid and not new.deposit_paid))
           and not backroom.acting_as_owner() and not backroom.stepped_up_recently() then
            if cancelling then
                raise exception 'cancelling booking % with a deposit needs a fresh code', old.ref
                    using errcode = 'BR010';
            end if;
            raise exception 'giving up the deposit of booking % needs a fresh code', old.ref
                using errcode = 'BR010';
        end if;
        return new;
    end
    $b$;

    -- Reads need a signed-in staff member: no policy lets a connection with no
    -- session see a row.
    for pol in
        select p.polname, c.relname
        from pg_policy p join pg_class c on c.oid = p.polrelid
        where c.relnamespace = 'backroom'::regnamespace and p.polcmd = 'r'
          and p.polname in ('console_read', 'api_staff_read')
    loop
        execute format('alter policy %I on backroom.%I using ((select backroom.current_staff_id()) is not null)',
                       pol.polname, pol.relname);
    end loop;
end
$fn$;
revoke all on function backroom_meta.apply_console_rules() from public;
select backroom_meta.apply_console_rules();

-- Operations are written by the roles that make them ----------------------------------
alter policy staff_update on backroom.operation
    using (backroom.current_staff_role() in ('door', 'manager', 'admin')
           and staff_id = backroom.current_staff_id());

-- A waitlist entry is its creator's -----------------------------------------------------
create function backroom.waitlist_created_by_signed_in() returns trigger
language plpgsql set search_path = pg_catalog, backroom, pg_temp as $$
begin
    if tg_op = 'INSERT' then
        new.created_by := backroom.current_staff_id();
    else
        new.created_by := old.created_by;
    end if;
    return new;
end
$$;

create trigger waitlist_created_by_signed_in
    before insert or update on backroom.waitlist_entry
    for each row when (backroom.current_staff_id() is not null)
    execute function backroom.waitlist_created_by_signed_in();

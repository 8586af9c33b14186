-- Undo where the venue needs it, the deposit of a cancelled booking, and the
-- no-show grace period.
--
-- 1. Four moves back, each only under its own operation, with a reason:
--      correct_arrivals    an arrived party's count, down or up; down to 0 the
--                          booking is expected again (confirmed: the party has
--                          been at the door, so the booking is not left to lapse
--                          as a pending one would). Door staff and managers.
--      reverse_no_show     no_show -> confirmed. Door staff and managers.
--      reverse_completion  completed -> arrived, with its arrival count. Managers.
--      reopen              cancelled -> confirmed or pending (as it stood before
--                          it was cancelled). Managers.
--    The moves back are rows of booking_transition naming their operation; a
--    forward operation never makes them, and they make no forward move. The
--    reason is the transaction's `backroom.reason`, kept on the booking
--    (undo_reason), so the audit row of the change holds it with who made it.
--    A table taken meanwhile refuses the move as any booking would be refused:
--    the no-overlap constraint, the seats of a table with parties in (0016),
--    holds, the guest's table limit (0012).
-- 2. Cancelling a booking whose deposit is paid says what became of the deposit
--    (deposit_outcome: kept or refunded). A refunded deposit is no longer paid.
-- 3. The venue's no-show grace: a party is a no-show only once it is late by
--    venue.no_show_grace_minutes. The moment is the one the console names
--    (backroom.now: the console's clock, which the tests and the benchmark set on
--    the night they play), else the database's own clock, so a client that skips
--    the console's check is held to it. (The owner connected as itself, seeding
--    sample nights, is not.)
--
-- New refusals:
--   BRU01 a move back without its own operation, or without a reason
--   BRU02 a move back by a role that may not make it
--   BRU03 cancelling a booking with a paid deposit, with no word of the deposit
--   BRN01 a no-show before the party is late by the grace period

alter table backroom.venue add column no_show_grace_minutes int not null default 15
    check (no_show_grace_minutes between 0 and 240);

alter table backroom.booking
    add column deposit_outcome text check (deposit_outcome in ('kept', 'refunded')),
    add column undo_reason text,
    add constraint booking_deposit_outcome_when_cancelled
        check (deposit_outcome is null or status = 'cancelled'),
    add constraint booking_refunded_is_unpaid
        check (deposit_outcome is distinct from 'refunded' or not deposit_paid),
    add constraint booking_undo_reason_limits
        check (undo_reason is null or length(undo_reason) <= 300);

insert into backroom.audit_operation (name, kind, reaches) values
    ('correct_arrivals', 'console', null),
    ('reverse_no_show', 'console', 'confirmed'),
    ('reverse_completion', 'console', 'arrived'),
    ('reopen', 'console', null);

alter table backroom.booking_transition
    add column operation text references backroom.audit_operation(name);
insert into backroom.booking_transition (from_status, to_status, operation) values
    ('arrived',   'confirmed', 'correct_arrivals'),
    ('no_show',   'confirmed', 'reverse_no_show'),
    ('completed', 'arrived',   'reverse_completion'),
    ('cancelled', 'confirmed', 'reopen'),
    ('cancelled', 'pending',   'reopen');

-- The operation an audit row names: as in 0009, and a move back is recorded as its
-- own operation.
create or replace function backroom.checked_operation(p_op text, p_table text, p_from text, p_to text)
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
    if p_table = 'booking' and not exists (
        select from backroom.booking_transition t
        where t.operation = p_op and t.from_status = p_from and t.to_status = p_to) then
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

-- Booking lifecycle: as in 0002, with the moves back, the deposit and the grace. ---
create or replace function backroom.booking_before_write() returns trigger
language plpgsql as $$
declare
    n backroom.night;
    pending_minutes int;
    grace int;
    old_terminal boolean;
    v_op text := nullif(current_setting('backroom.op', true), '');
    v_reason text := nullif(btrim(coalesce(current_setting('backroom.reason', true), '')), '');
    v_undo boolean;
    v_back text;   -- the operation of the move back this change makes, if it makes one
    v_role text;
    v_at timestamptz;
begin
    if tg_op = 'INSERT' then
        if new.status not in ('pending', 'confirmed', 'arrived') then
            raise exception 'a new booking cannot start as %', new.status
                using errcode = 'BR001', detail = json_build_object('from', null, 'to', new.status)::text;
        end if;
        new.version := 1;
        new.created_by := coalesce(new.created_by, backroom.current_staff_id());
        new.updated_by := new.created_by;
        new.created_at := now();
    else
        v_undo := exists (select from backroom.booking_transition where operation = v_op);
        if new.status <> old.status then
            select operation into v_back from backroom.booking_transition
            where from_status = old.status and to_status = new.status;
        end if;
        select terminal into old_terminal from backroom.booking_status where status = old.status;
        if old_terminal and v_back is distinct from v_op then
            raise exception 'booking % is % and can no longer change', old.ref, old.status
                using errcode = 'BR006', detail = json_build_object('status', old.status)::text;
        end if;
        if new.status <> old.status and not exists (
            select from backroom.booking_transition
            where from_status = old.status and to_status = new.status
              and (operation is null or operation = v_op)
              and (operation is not null or not v_undo)
        ) then
            raise exception 'booking % cannot go from % to %', old.ref, old.status, new.status
                using errcode = 'BR001',
                      detail = json_build_object('from', old.status, 'to', new.status)::text;
        end if;
        if new.arrived_count < old.arrived_count and v_op is distinct from 'correct_arrivals' then
            raise exception 'the arrivals of booking % are lowered only as a correction, with a reason',
                old.ref using errcode = 'BRU01';
        end if;
        if v_undo then
            -- A move back: its own operation, a reason, a role that may make it.
            if v_reason is null then
                raise exception 'undoing a change to booking % needs a reason', old.ref
                    using errcode = 'BRU01';
            end if;
            if v_op = 'correct_arrivals' and old.status <> 'arrived' then
                raise exception 'booking % is %: only the count of a party that is in is corrected',
                    old.ref, old.status
                    using errcode = 'BR001',
                          detail = json_build_object('from', old.status, 'to', new.status)::text;
            end if;
            if v_op = 'correct_arrivals' and new.status = 'arrived' and new.arrived_count = 0 then
                raise exception 'no one of booking % is in: it is expected again, not arrived', old.ref
                    using errcode = 'BR001',
                          detail = json_build_object('from', old.status, 'to', new.status)::text;
            end if;
            if v_op = 'correct_arrivals' and new.status <> 'arrived' and new.arrived_count <> 0 then
                raise exception 'booking % is expected again only with nobody in', old.ref
                    using errcode = 'BR001',
                          detail = json_build_object('from', old.status, 'to', new.status)::text;
            end if;
            v_role := backroom.current_staff_role();
            if not backroom.acting_as_owner() and (
                (v_op in ('correct_arrivals', 'reverse_no_show')
                 and v_role is distinct from 'door' and v_role is distinct from 'manager'
                 and v_role is distinct from 'admin')
                or (v_op in ('reverse_completion', 'reopen')
                    and v_role is distinct from 'manager' and v_role is distinct from 'admin')) then
                raise exception '% staff may not undo this change to booking %',
                    coalesce(v_role, 'no'), old.ref
                    using errcode = 'BRU02', detail = json_build_object('role', v_role, 'operation', v_op)::text;
            end if;
            new.undo_reason := v_reason;
            if v_op = 'reopen' then
                new.cancel_reason := old.cancel_reason;
                new.deposit_outcome := null;
            end if;
        end if;
        new.id := old.id;
        new.night_id := old.night_id;
        new.created_by := old.created_by;
        new.created_at := old.created_at;
        new.version := old.version + 1;
        new.updated_by := coalesce(backroom.current_staff_id(), new.updated_by);

        -- A no-show only once the party is late by the venue's grace.
        if new.status = 'no_show' and old.status <> 'no_show' and not backroom.acting_as_owner() then
            v_at := coalesce(nullif(current_setting('backroom.now', true), '')::timestamptz,
                             clock_timestamp());
            select v.no_show_grace_minutes into grace
            from backroom.night ni join backroom.venue v on v.id = ni.venue_id
            where ni.id = old.night_id;
            if v_at < new.starts_at + make_interval(mins => coalesce(grace, 0)) then
                raise exception 'booking % is a no-show only from % minutes after it was due',
                    old.ref, coalesce(grace, 0)
                    using errcode = 'BRN01',
                          detail = json_build_object('due', new.starts_at, 'grace', coalesce(grace, 0),
                                                     'from', new.starts_at
                                                         + make_interval(mins => coalesce(grace, 0)))::text;
            end if;
        end if;
    end if;
    new.updated_at := now();

    if new.status = 'pending' then
        if new.expires_at is null then
            select v.pending_minutes into pending_minutes
            from backroom.night ni join backroom.venue v on v.id = ni.venue_id
            where ni.id = new.night_id;
            new.expires_at := now() + make_interval(mins => pending_minutes);
        end if;
    else
        new.expires_at := null;
    end if;

    if new.status = 'arrived' and new.arrived_count = 0 then
        new.arrived_count := new.party_size;
    end if;

    if tg_op = 'INSERT' or new.starts_at <> old.starts_at or new.ends_at <> old.ends_at then
        select * into n from backroom.night where id = new.night_id;
        if new.starts_at < n.starts_at or new.ends_at > n.ends_at then
            raise exception 'booking time % to % is outside the night''s hours (% to %)',
                new.starts_at, new.ends_at, n.starts_at, n.ends_at
                using errcode = 'BR003',
                      detail = json_build_object('opens', n.starts_at, 'closes', n.ends_at)::text;
        end if;
    end if;
    return new;
end
$$;

-- The deposit of a cancelled booking is kept or refunded, and says which. A trigger of
-- its own, named to run after the door's limits and the step-up (triggers run in name
-- order): who may not cancel, or has no fresh code, hears that first.
create function backroom.deposit_outcome_said() returns trigger
language plpgsql set search_path = pg_catalog, backroom, pg_temp as $$
begin
    if new.status = 'cancelled' and old.status <> 'cancelled' and old.deposit > 0
       and old.deposit_paid and new.deposit_outcome is null then
        raise exception 'cancelling booking % with a paid deposit: say whether it is kept or refunded',
            old.ref using errcode = 'BRU03';
    end if;
    return new;
end
$$;

create trigger booking_said_deposit_outcome
    before update on backroom.booking
    for each row execute function backroom.deposit_outcome_said();
revoke all on function backroom.deposit_outcome_said() from public;

-- When the party arrived: as in 0016, and a party no longer in (its count corrected to
-- nobody) has no arrival; its tables are claimed from its booked start again.
create or replace function backroom.booking_arrival_time() returns trigger
language plpgsql set search_path = pg_catalog, backroom, pg_temp as $$
declare
    v_night int := new.night_id;
    n record;
begin
    -- Each branch names OLD only where there is one.
    if tg_op = 'UPDATE' then
        v_night := old.night_id;
        if new.status <> 'arrived' then
            new.arrived_at := case when old.status = 'arrived' and new.status in ('pending', 'confirmed')
                                   then null else old.arrived_at end;
            return new;
        end if;
        if old.arrived_at is not null
           and (old.status = 'arrived' or new.arrived_at is not distinct from old.arrived_at) then
            new.arrived_at := old.arrived_at;
            return new;
        end if;
    elsif new.status <> 'arrived' or new.arrived_at is null then
        new.arrived_at := null;
        return new;
    end if;
    new.arrived_at := least(coalesce(new.arrived_at, now()), clock_timestamp());
    select starts_at, ends_at into n from backroom.night where id = v_night;
    if found then
        new.arrived_at := least(greatest(new.arrived_at, n.starts_at - interval '12 hours'),
                                n.ends_at);
    end if;
    return new;
end
$$;

-- Door staff: as in 0004, and a party they correct to nobody in, or a no-show they
-- reverse, is confirmed again.
alter policy staff_update on backroom.booking
    using (backroom.current_staff_role() in ('door', 'manager', 'admin'))
    with check (backroom.current_staff_role() in ('manager', 'admin')
                or (backroom.current_staff_role() = 'door'
                    and (status in ('arrived', 'no_show')
                         or (status = 'confirmed'
                             and current_setting('backroom.op', true)
                                 in ('correct_arrivals', 'reverse_no_show')))));

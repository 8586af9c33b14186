-- Confirm and check-in in one call, so each is one round trip to the server.
--
-- Each function is called by the console's login in a statement of its own (its
-- own transaction). It takes the console role and presents the staff member's
-- session itself, as act_as (services/store/db.py) does from the client, then runs as that
-- role (security invoker): the same privileges, row level security, triggers and
-- audit as the statements the service sent one by one before. It claims the
-- operation id first (a repeat with the same id gets the first answer and
-- changes nothing), changes the booking at the version the console saw, and
-- stores and returns the booking as the service reads it.
--
-- What it cannot do is refused with BR0F0 (no booking at that version, an
-- operation id used for something else, a check-in the rules of the night or
-- the party refuse): nothing was written, and the service runs the operation
-- its longer way, which explains the refusal in staff words. Any other refusal
-- of the database (a rule, a role) also rolls everything back.
--
-- The console may execute these two functions and no other of this migration:
-- each is whole in itself, so there are no helpers to call on their own.

-- Confirm, with the deposit when one is given.
create function backroom.confirm_booking(
    p_session text, p_op_id uuid, p_staff int, p_booking int, p_version int, p_deposit numeric
) returns jsonb
language plpgsql volatile set search_path = pg_catalog, backroom, pg_temp as $$
declare
    known record;
    answer jsonb;
begin
    perform set_config('role', 'backroom_console', true),
            set_config('backroom.session', coalesce(p_session, ''), true),
            set_config('backroom.op', 'confirm', true),
            set_config('backroom.op_id', p_op_id::text, true);
    -- The operation id first: a repeat gets the first answer and changes nothing.
    insert into backroom.operation (op_id, kind, staff_id) values (p_op_id, 'confirm', p_staff)
    on conflict (op_id) do nothing;
    if not found then
        select o.kind, o.result into known from backroom.operation o where o.op_id = p_op_id;
        if known.kind is distinct from 'confirm' or known.result is null then
            raise exception 'operation id % was already used', p_op_id using errcode = 'BR0F0';
        end if;
        return known.result;
    end if;
    if p_deposit is null then
        update backroom.booking set status = 'confirmed' where id = p_booking and version = p_version;
    else
        update backroom.booking set status = 'confirmed', deposit = p_deposit, deposit_paid = p_deposit > 0
        where id = p_booking and version = p_version;
    end if;
    if not found then
        raise exception 'booking % is not at version %', p_booking, p_version using errcode = 'BR0F0';
    end if;
    set constraints all immediate;
    -- The booking as the service reads it (services/floor.py BOOKING_SELECT), stored as the answer.
    select jsonb_build_object(
        'id', b.id, 'ref', b.ref, 'status', b.status, 'guest_name', g.name, 'guest_vip', g.vip,
        'party_size', b.party_size, 'arrived_count', b.arrived_count,
        'starts_at', b.starts_at, 'ends_at', b.ends_at, 'version', b.version,
        'table_ids', coalesce((select jsonb_agg(bt.table_id order by bt.table_id)
                               from backroom.booking_table bt where bt.booking_id = b.id), '[]'),
        'deposit', b.deposit::text, 'notes', b.notes,
        'changed_by', coalesce((select s.display_name from backroom.staff s where s.id = b.updated_by), ''),
        'arrived_at', b.arrived_at, 'deposit_paid', b.deposit_paid,
        'deposit_outcome', b.deposit_outcome, 'undo_reason', b.undo_reason)
    into answer
    from backroom.booking b join backroom.guest g on g.id = b.guest_id
    where b.id = p_booking;
    update backroom.operation set result = answer where op_id = p_op_id;
    return answer;
end
$$;
revoke all on function backroom.confirm_booking(text, uuid, int, int, int, numeric) from public;
grant execute on function backroom.confirm_booking(text, uuid, int, int, int, numeric) to backroom_console;

-- Check `p_arrived` more of the party in at `p_now`, within the night (from
-- `p_earliest` before it opens until it is over) and up to the party.
create function backroom.check_in_booking(
    p_session text, p_op_id uuid, p_staff int, p_booking int, p_version int, p_arrived int,
    p_now timestamptz, p_earliest interval
) returns jsonb
language plpgsql volatile set search_path = pg_catalog, backroom, pg_temp as $$
declare
    known record;
    answer jsonb;
    cur record;
begin
    perform set_config('role', 'backroom_console', true),
            set_config('backroom.session', coalesce(p_session, ''), true),
            set_config('backroom.op', 'check_in', true),
            set_config('backroom.op_id', p_op_id::text, true);
    -- The operation id first: a repeat gets the first answer and changes nothing.
    insert into backroom.operation (op_id, kind, staff_id) values (p_op_id, 'check_in', p_staff)
    on conflict (op_id) do nothing;
    if not found then
        select o.kind, o.result into known from backroom.operation o where o.op_id = p_op_id;
        if known.kind is distinct from 'check_in' or known.result is null then
            raise exception 'operation id % was already used', p_op_id using errcode = 'BR0F0';
        end if;
        return known.result;
    end if;
    select bk.version, bk.status, bk.party_size, bk.arrived_count, n.starts_at, n.ends_at
    into cur
    from backroom.booking bk left join backroom.night n on n.id = bk.night_id
    where bk.id = p_booking
    for update of bk;
    if not found or cur.version <> p_version
       or (cur.ends_at is not null and (p_now > cur.ends_at or p_now < cur.starts_at - p_earliest))
       or (cur.status = 'arrived' and cur.party_size - cur.arrived_count <= 0)
       or p_arrived > cur.party_size - cur.arrived_count then
        raise exception 'booking % cannot be checked in so', p_booking using errcode = 'BR0F0';
    end if;
    update backroom.booking
    set status = 'arrived', arrived_count = arrived_count + p_arrived, arrived_at = coalesce(arrived_at, p_now)
    where id = p_booking;
    set constraints all immediate;
    -- The booking as the service reads it (services/floor.py BOOKING_SELECT), stored as the answer.
    select jsonb_build_object(
        'id', b.id, 'ref', b.ref, 'status', b.status, 'guest_name', g.name, 'guest_vip', g.vip,
        'party_size', b.party_size, 'arrived_count', b.arrived_count,
        'starts_at', b.starts_at, 'ends_at', b.ends_at, 'version', b.version,
        'table_ids', coalesce((select jsonb_agg(bt.table_id order by bt.table_id)
                               from backroom.booking_table bt where bt.booking_id = b.id), '[]'),
        'deposit', b.deposit::text, 'notes', b.notes,
        'changed_by', coalesce((select s.display_name from backroom.staff s where s.id = b.updated_by), ''),
        'arrived_at', b.arrived_at, 'deposit_paid', b.deposit_paid,
        'deposit_outcome', b.deposit_outcome, 'undo_reason', b.undo_reason)
    into answer
    from backroom.booking b join backroom.guest g on g.id = b.guest_id
    where b.id = p_booking;
    update backroom.operation set result = answer where op_id = p_op_id;
    return answer;
end
$$;
revoke all on function backroom.check_in_booking(text, uuid, int, int, int, int, timestamptz, interval) from public;
grant execute on function backroom.check_in_booking(text, uuid, int, int, int, int, timestamptz, interval)
    to backroom_console;

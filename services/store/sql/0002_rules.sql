-- Rules enforced by triggers, the audit trail, change notifications and
-- Row Level Security.
--
-- Refusals raise SQLSTATEs of our own so that services can turn them into
-- typed errors:
--   BR001 illegal status transition      BR002 party outside table capacity
--   BR003 outside the night's hours      BR004 table held by someone else
--   BR005 too many tables for one guest  BR006 booking is closed (terminal)
--   BR007 table already booked (hold refused)
--   BR008 tables of one booking not together on one floor
--   BR009 an active booking without a table
-- Overlapping bookings of one table raise exclusion_violation (23P01).

create function backroom.current_staff_id() returns int
language sql stable as $$
    select nullif(current_setting('backroom.staff_id', true), '')::int
$$;

create function backroom.new_ref() returns text
language sql volatile as $$
    select string_agg(substr('ABCDEFGHJKLMNPQRSTUVWXYZ23456789', 1 + floor(random() * 32)::int, 1), '')
    from generate_series(1, 6)
$$;

alter table backroom.booking alter column ref set default backroom.new_ref();

-- Booking lifecycle -----------------------------------------------------------

create function backroom.booking_before_write() returns trigger
language plpgsql as $$
declare
    n backroom.night;
    pending_minutes int;
    old_terminal boolean;
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
        select terminal into old_terminal from backroom.booking_status where status = old.status;
        if old_terminal then
            raise exception 'booking % is % and can no longer change', old.ref, old.status
                using errcode = 'BR006', detail = json_build_object('status', old.status)::text;
        end if;
        if new.status <> old.status and not exists (
            select from backroom.booking_transition
            where from_status = old.status and to_status = new.status
        ) then
            raise exception 'booking % cannot go from % to %', old.ref, old.status, new.status
                using errcode = 'BR001',
                      detail = json_build_object('from', old.status, 'to', new.status)::text;
        end if;
        new.id := old.id;
        new.night_id := old.night_id;
        new.created_by := old.created_by;
        new.created_at := old.created_at;
        new.version := old.version + 1;
        new.updated_by := coalesce(backroom.current_staff_id(), new.updated_by);
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

create trigger booking_before_write
    before insert or update on backroom.booking
    for each row execute function backroom.booking_before_write();

-- Keep each covered table's copy of the booking's time and activity in step.
create function backroom.booking_sync_tables() returns trigger
language plpgsql as $$
begin
    if new.starts_at <> old.starts_at or new.ends_at <> old.ends_at or new.status <> old.status then
        update backroom.booking_table bt
        set during = tstzrange(new.starts_at, new.ends_at, '[)'),
            active = s.active
        from backroom.booking_status s
        where bt.booking_id = new.id and s.status = new.status;
    end if;
    return null;
end
$$;

create trigger booking_sync_tables
    after update on backroom.booking
    for each row execute function backroom.booking_sync_tables();

create function backroom.booking_table_before_write() returns trigger
language plpgsql as $$
declare
    b record;
    h record;
begin
    select bk.starts_at, bk.ends_at, bk.guest_id, bk.night_id, s.active
    into b
    from backroom.booking bk join backroom.booking_status s on s.status = bk.status
    where bk.id = new.booking_id;

    new.during := tstzrange(b.starts_at, b.ends_at, '[)');
    new.active := b.active;

    if new.active then
        -- Serialise with holds on the same table and with other bookings of
        -- the same guest, so the checks below see every committed rival.
        perform pg_advisory_xact_lock(hashtext('backroom.table'), new.table_id);
        perform pg_advisory_xact_lock(hashtext('backroom.guest'), b.guest_id);

        select hold.id, hold.holder, hold.expires_at into h
        from backroom.hold
        where hold.table_id = new.table_id
          and hold.during && new.during
          and hold.expires_at > clock_timestamp()
          and hold.staff_id is distinct from backroom.current_staff_id()
        limit 1;
        if found then
            raise exception 'table is held by % until %', h.holder, h.expires_at
                using errcode = 'BR004',
                      detail = json_build_object('hold_id', h.id, 'holder', h.holder,
                                                 'expires_at', h.expires_at,
                                                 'table_id', new.table_id)::text;
        end if;
    end if;
    return new;
end
$$;

create trigger booking_table_before_write
    before insert or update on backroom.booking_table
    for each row execute function backroom.booking_table_before_write();

-- Checked at commit, once the booking and all its tables are written.
create function backroom.booking_check() returns trigger
language plpgsql as $$
declare
    bid int;
    b record;
    cap record;
    guest_tables int;
    max_tables int;
begin
    if tg_table_name = 'booking' then
        bid := new.id;
    elsif tg_op = 'DELETE' then
        bid := old.booking_id;
    else
        bid := new.booking_id;
    end if;

    select bk.*, s.active into b
    from backroom.booking bk join backroom.booking_status s on s.status = bk.status
    where bk.id = bid;
    if not found or not b.active then
        return null;
    end if;

    select count(*) as n, coalesce(sum(t.max_party), 0) as max_party, min(t.min_party) as min_party,
           count(distinct t.floor_id) as floors,
           string_agg(t.number::text, '+' order by t.number) as names,
           bool_and(t.others_near) as together
    into cap
    from (
        select vt.*, (
            (select count(*) from backroom.booking_table o where o.booking_id = bid) = 1
            or exists (
                select from backroom.booking_table o
                where o.booking_id = bid and o.table_id = any(vt.neighbours))
        ) as others_near
        from backroom.booking_table bt join backroom.venue_table vt on vt.id = bt.table_id
        where bt.booking_id = bid
    ) t;

    if cap.n = 0 then
        raise exception 'booking % has no table', b.ref using errcode = 'BR009';
    end if;
    if cap.floors > 1 or not cap.together then
        raise exception 'tables % of booking % are not next to each other on one floor', cap.names, b.ref
            using errcode = 'BR008';
    end if;
    if b.party_size > cap.max_party or b.party_size < cap.min_party then
        raise exception 'a party of % does not fit table % (% to % guests)',
            b.party_size, cap.names, cap.min_party, cap.max_party
            using errcode = 'BR002',
                  detail = json_build_object('party', b.party_size, 'max', cap.max_party,
                                             'min', cap.min_party, 'tables', cap.names)::text;
    end if;

    select count(distinct bt.table_id) into guest_tables
    from backroom.booking bk
    join backroom.booking_table bt on bt.booking_id = bk.id and bt.active
    where bk.guest_id = b.guest_id and bk.night_id = b.night_id;
    select v.max_tables_per_guest into max_tables
    from backroom.night n join backroom.venue v on v.id = n.venue_id where n.id = b.night_id;
    if guest_tables > max_tables then
        raise exception 'this guest would hold % tables tonight; the limit is %', guest_tables, max_tables
            using errcode = 'BR005',
                  detail = json_build_object('tables', guest_tables, 'limit', max_tables)::text;
    end if;
    return null;
end
$$;

create constraint trigger booking_rules_at_commit
    after insert or update on backroom.booking
    deferrable initially deferred
    for each row execute function backroom.booking_check();

create constraint trigger booking_table_rules_at_commit
    after insert or update or delete on backroom.booking_table
    deferrable initially deferred
    for each row execute function backroom.booking_check();

-- Holds -----------------------------------------------------------------------

create function backroom.hold_before_insert() returns trigger
language plpgsql as $$
declare
    secs int;
    taken record;
begin
    perform pg_advisory_xact_lock(hashtext('backroom.table'), new.table_id);

    -- A lapsed hold is gone, even if nobody has swept it yet.
    delete from backroom.hold
    where table_id = new.table_id and expires_at <= clock_timestamp();

    select bk.id, bk.ref into taken
    from backroom.booking_table bt join backroom.booking bk on bk.id = bt.booking_id
    where bt.table_id = new.table_id and bt.active and bt.during && new.during
    limit 1;
    if found then
        raise exception 'table is already booked (%)', taken.ref
            using errcode = 'BR007',
                  detail = json_build_object('booking_id', taken.id, 'ref', taken.ref,
                                             'table_id', new.table_id)::text;
    end if;

    new.staff_id := coalesce(new.staff_id, backroom.current_staff_id());
    if new.expires_at is null then
        select v.hold_seconds into secs
        from backroom.night n join backroom.venue v on v.id = n.venue_id where n.id = new.night_id;
        new.expires_at := clock_timestamp() + make_interval(secs => secs);
    end if;
    new.created_at := now();
    return new;
end
$$;

create trigger hold_before_insert
    before insert on backroom.hold
    for each row execute function backroom.hold_before_insert();

-- Expire what is due: lapsed holds and pending bookings not confirmed in time.
create function backroom.sweep() returns int
language plpgsql as $$
declare
    n int := 0;
    k int;
begin
    perform set_config('backroom.op', 'expire', true);
    delete from backroom.hold where expires_at <= clock_timestamp();
    get diagnostics k = row_count;
    n := n + k;
    update backroom.booking set status = 'expired'
    where status = 'pending' and expires_at <= clock_timestamp();
    get diagnostics k = row_count;
    n := n + k;
    perform set_config('backroom.op', '', true);
    return n;
end
$$;

-- Audit -----------------------------------------------------------------------

create function backroom.audit() returns trigger
language plpgsql security definer set search_path = pg_catalog, backroom as $$
declare
    before_row jsonb := case when tg_op in ('UPDATE', 'DELETE') then to_jsonb(old) end;
    after_row  jsonb := case when tg_op in ('INSERT', 'UPDATE') then to_jsonb(new) end;
    entity_id  int;
begin
    -- The copies of time and activity kept on booking_table follow the
    -- booking, whose own audit row already says what changed.
    if tg_table_name = 'booking_table' and tg_op = 'UPDATE' then
        return null;
    end if;
    entity_id := case tg_table_name
        when 'booking_table' then coalesce(after_row, before_row)->>'booking_id'
        else coalesce(after_row, before_row)->>'id' end;
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, op_id, before, after)
    values (
        backroom.current_staff_id(),
        coalesce(nullif(current_setting('backroom.op', true), ''), lower(tg_op)),
        tg_table_name,
        entity_id,
        nullif(current_setting('backroom.op_id', true), '')::uuid,
        before_row,
        after_row
    );
    return null;
end
$$;

create trigger booking_audit after insert or update or delete on backroom.booking
    for each row execute function backroom.audit();
create trigger booking_table_audit after insert or update or delete on backroom.booking_table
    for each row execute function backroom.audit();
create trigger hold_audit after insert or update or delete on backroom.hold
    for each row execute function backroom.audit();

-- Change notifications ---------------------------------------------------------
-- Sent on commit only; small payloads (what changed, never the row itself).

create function backroom.notify_change() returns trigger
language plpgsql security definer set search_path = pg_catalog, backroom as $$
declare
    r jsonb := to_jsonb(coalesce(new, old));
    payload jsonb;
begin
    payload := case tg_table_name
        when 'booking' then jsonb_build_object(
            'kind', 'booking', 'id', r->'id', 'night', r->'night_id', 'version', r->'version',
            'tables', (select coalesce(jsonb_agg(table_id), '[]') from backroom.booking_table
                       where booking_id = (r->>'id')::int))
        when 'booking_table' then jsonb_build_object(
            'kind', 'booking', 'id', r->'booking_id',
            'night', (select night_id from backroom.booking where id = (r->>'booking_id')::int),
            'tables', jsonb_build_array(r->'table_id'))
        when 'hold' then jsonb_build_object(
            'kind', 'hold', 'id', r->'id', 'night', r->'night_id',
            'tables', jsonb_build_array(r->'table_id'))
        else jsonb_build_object('kind', tg_table_name, 'id', r->'id', 'night', r->'night_id')
    end;
    payload := payload || jsonb_build_object('op', lower(tg_op));
    perform pg_notify('backroom_changes', payload::text);
    return null;
end
$$;

create trigger booking_notify after insert or update or delete on backroom.booking
    for each row execute function backroom.notify_change();
create trigger booking_table_notify after insert or delete on backroom.booking_table
    for each row execute function backroom.notify_change();
create trigger hold_notify after insert or update or delete on backroom.hold
    for each row execute function backroom.notify_change();
create trigger venue_table_notify after insert or update or delete on backroom.venue_table
    for each row execute function backroom.notify_change();
create trigger night_notify after insert or update or delete on backroom.night
    for each row execute function backroom.notify_change();
create trigger guest_notify after update on backroom.guest
    for each row execute function backroom.notify_change();

-- Row Level Security ------------------------------------------------------------
-- Enabled on every table. The console role reads the venue and writes
-- bookings, guests and holds; the audit trail is written only by the
-- trigger above. Per-staff policies build on these.

do $$
declare
    t text;
begin
    foreach t in array array['venue', 'floor', 'venue_table', 'night', 'staff', 'guest',
                             'booking_status', 'booking_transition', 'booking',
                             'booking_table', 'hold', 'audit_log'] loop
        execute format('alter table backroom.%I enable row level security', t);
        execute format('grant select on backroom.%I to backroom_console', t);
        execute format('create policy console_read on backroom.%I for select to backroom_console using (true)', t);
    end loop;
end
$$;

grant insert, update on backroom.guest, backroom.booking, backroom.booking_table, backroom.hold
    to backroom_console;
grant delete on backroom.booking_table, backroom.hold to backroom_console;

create policy console_insert on backroom.guest for insert to backroom_console with check (true);
create policy console_update on backroom.guest for update to backroom_console using (true);
create policy console_insert on backroom.booking for insert to backroom_console with check (true);
create policy console_update on backroom.booking for update to backroom_console using (true);
create policy console_insert on backroom.booking_table for insert to backroom_console with check (true);
create policy console_update on backroom.booking_table for update to backroom_console using (true);
create policy console_delete on backroom.booking_table for delete to backroom_console using (true);
create policy console_insert on backroom.hold for insert to backroom_console with check (true);
create policy console_update on backroom.hold for update to backroom_console using (true);
create policy console_delete on backroom.hold for delete to backroom_console using (true);

grant execute on function backroom.current_staff_id(), backroom.new_ref(), backroom.sweep()
    to backroom_console;

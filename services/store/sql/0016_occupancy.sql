-- A party that is in occupies its table.
--
-- Until now a booking's claim on its tables was its booked time alone, so a
-- party checked in early (four of a party at 21:05 for a 00:00 booking) left
-- its table looking free until 00:00, and a walk-in was seated on top of it.
--
-- 1. A booking records when its party arrived (`arrived_at`: the first
--    check-in, at the console's clock, never later than the database's).
-- 2. The span a booking occupies on each of its tables (booking_table.during,
--    the span the no-overlap constraint compares) starts at the arrival when
--    the party came early: from then on nobody else can be booked, held or
--    seated there. It still ends at the booked end.
-- 3. A party that stays past its booked end is still in until it is
--    completed. A time range cannot say "until completed" without blocking
--    every later booking of the table, so this is a rule of its own, checked
--    at commit: the parties in at one table on one night (status arrived)
--    together fit its seats, counting each party's full size (the rest of a
--    party may still come). For a party over joined tables, the seats are
--    those of every table the parties in there cover. Refused with BRS01.
--    The check claims each table first (see 0012), so it holds at every
--    isolation level.
--
-- Rows written before this keep their booked span: their arrival was not kept.

alter table backroom.booking add column arrived_at timestamptz;

-- When the party arrived -----------------------------------------------------------------
-- Set when a booking becomes arrived, from the time the console gives (or the
-- transaction's), and kept from then on: a later check-in of more of the party
-- does not move it. Never later than now, never more than twelve hours before
-- the night opens, never after it closes. A booking inserted as arrived takes
-- only a time it is given.
create function backroom.booking_arrival_time() returns trigger
language plpgsql set search_path = pg_catalog, backroom, pg_temp as $$
declare
    v_night int := new.night_id;
    n record;
begin
    -- Each branch names OLD only where there is one.
    if tg_op = 'UPDATE' then
        v_night := old.night_id;
        if new.status <> 'arrived' then
            new.arrived_at := old.arrived_at;
            return new;
        end if;
        if old.arrived_at is not null
           and (old.status = 'arrived' or new.arrived_at is not distinct from old.arrived_at) then
            new.arrived_at := old.arrived_at;
            return new;
        end if;
    elsif new.status <> 'arrived' or new.arrived_at is null then
        -- A booking written as arrived with no time (a seed, another client) keeps its
        -- booked span; a walk-in starts now anyway.
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

create trigger booking_arrival_time
    before insert or update on backroom.booking
    for each row execute function backroom.booking_arrival_time();
-- Postgres calls a trigger function as a trigger whatever its grants; nobody calls it else.
revoke all on function backroom.booking_arrival_time() from public;

-- The tables a booking covers: as in 0012, with the occupied span. ------------------------
create or replace function backroom.booking_table_before_write() returns trigger
language plpgsql as $$
declare
    b record;
    h record;
begin
    select bk.starts_at, bk.ends_at, bk.arrived_at, bk.guest_id, bk.night_id, s.active
    into b
    from backroom.booking bk join backroom.booking_status s on s.status = bk.status
    where bk.id = new.booking_id;

    -- From its start, or from its party's arrival if that came first, to its booked end.
    new.during := tstzrange(least(b.starts_at, coalesce(b.arrived_at, b.starts_at)), b.ends_at, '[)');
    new.active := b.active;

    if new.active then
        -- Claimed before the reads below: they then see every committed rival,
        -- or the claim itself is refused at repeatable read and above.
        perform backroom.claim('table', new.table_id);
        perform backroom.claim('guest', b.guest_id);

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

-- As in 0009, with the occupied span, and kept in step when the party arrives.
create or replace function backroom.booking_sync_tables() returns trigger
language plpgsql security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    span tstzrange := tstzrange(least(new.starts_at, coalesce(new.arrived_at, new.starts_at)),
                                new.ends_at, '[)');
begin
    if new.starts_at <> old.starts_at or new.ends_at <> old.ends_at or new.status <> old.status
       or new.arrived_at is distinct from old.arrived_at then
        update backroom.booking_table bt
        set during = span, active = s.active
        from backroom.booking_status s
        where bt.booking_id = new.id and s.status = new.status
          and (bt.during, bt.active) is distinct from (span, s.active);
    end if;
    return null;
end
$$;

-- The seats of a table hold every party in there ------------------------------------------
-- A definer: the count must see every party in, whatever the session may read.
create function backroom.seats_check() returns trigger
language plpgsql security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    bid int;
    b record;
    t record;
    load record;
begin
    -- Each branch names only the fields of its own table's row.
    if tg_table_name = 'booking' then
        bid := new.id;
    else
        bid := new.booking_id;
    end if;
    select bk.id, bk.ref, bk.status, bk.night_id into b from backroom.booking bk where bk.id = bid;
    if not found or b.status <> 'arrived' then
        return null;
    end if;
    -- In one order, so two checks of the same tables wait for each other, not deadlock.
    for t in select bt.table_id from backroom.booking_table bt where bt.booking_id = bid
             order by bt.table_id loop
        perform backroom.claim('table', t.table_id);
    end loop;

    with parties as (
        select distinct o.id, o.ref, o.party_size, o.arrived_count, g.name
        from backroom.booking o
        join backroom.guest g on g.id = o.guest_id
        join backroom.booking_table ot on ot.booking_id = o.id
        where o.night_id = b.night_id and o.status = 'arrived'
          and ot.table_id in (select table_id from backroom.booking_table where booking_id = bid)
    ), tables as (
        select distinct vt.id, vt.number, vt.max_party
        from backroom.booking_table bt join backroom.venue_table vt on vt.id = bt.table_id
        where bt.booking_id in (select id from parties)
    )
    select (select sum(party_size) from parties) as people,
           (select count(*) from parties) as parties,
           (select json_agg(json_build_object('ref', ref, 'name', name, 'party', party_size,
                                              'arrived', arrived_count) order by ref)
            from parties where id <> bid) as others,
           (select sum(max_party) from tables) as seats,
           (select string_agg(number::text, '+' order by number) from tables) as names
    into load;

    if load.people > load.seats then
        raise exception 'table % has % seats: the parties in there would be % guests',
            load.names, load.seats, load.people
            using errcode = 'BRS01',
                  detail = json_build_object('tables', load.names, 'seats', load.seats,
                                             'people', load.people, 'ref', b.ref,
                                             'others', load.others)::text;
    end if;
    return null;
end
$$;

create constraint trigger booking_seats_at_commit
    after insert or update on backroom.booking
    deferrable initially deferred
    for each row when (new.status = 'arrived')
    execute function backroom.seats_check();

create constraint trigger booking_table_seats_at_commit
    after insert on backroom.booking_table
    deferrable initially deferred
    for each row execute function backroom.seats_check();
revoke all on function backroom.seats_check() from public;

-- Rules that hold whatever isolation level a client picks.
--
-- The triggers of 0002 check by reading (holds in the way of a booking,
-- bookings in the way of a hold, the guest's tables tonight, the party and
-- the tables of one booking), and serialised rivals with advisory locks.
-- That is enough at read committed, where every statement reads the latest
-- committed state once the lock is taken, but at repeatable read and
-- serializable a check reads the transaction's snapshot and misses a rival
-- that committed after it was taken: a hold and a booking of one table could
-- both be live, and a guest could end up with more tables than the limit.
--
-- The choice: every check first claims a row of backroom.rule_clock for what
-- it is about (the table, the guest, the booking), by updating it, and only
-- then reads. A claim is a row lock held to the end of the transaction, so:
--   * at read committed a rival's claim waits for ours, and the check that
--     follows sees what we committed (as the advisory locks did);
--   * at repeatable read and serializable, claiming a row that a rival
--     changed after our snapshot was taken is refused by Postgres itself
--     with a serialization failure (40001): the rival's write is exactly the
--     one our snapshot cannot see, so the refusal is the correct answer, and
--     the services tell staff to try again.
-- One mechanism covers every rule that reads other rows, at every level,
-- with no new constraint to keep in step. A single exclusion constraint over
-- holds and booked tables would cover only the first rule, and cannot express
-- that a lapsed hold no longer counts or that a manager's own hold does not
-- stand in their own way. Claims are per table and per guest, not per night,
-- so the rules stay right even if two nights' hours were ever to overlap; the
-- cost is a rare needless retry at repeatable read.
--
-- A hold that has lapsed is not renewed (BR014): a booking may already have
-- been made over it.

create table backroom.rule_clock (
    kind text not null check (kind in ('table', 'guest', 'booking')),
    key  int not null,
    n    bigint not null default 1,
    primary key (kind, key)
);
alter table backroom.rule_clock enable row level security;

-- Anyone who may write a booking or a hold goes through here, by the triggers.
-- It changes nothing but the counter; holding the lock it takes is no more
-- than any writer of a table could do with a row or advisory lock.
create function backroom.claim(p_kind text, p_key int) returns void
language sql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
    insert into backroom.rule_clock as c (kind, key) values (p_kind, p_key)
    on conflict (kind, key) do update set n = c.n + 1
$$;

-- The tables a booking covers ---------------------------------------------------------

create or replace function backroom.booking_table_before_write() returns trigger
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

-- Checked at commit: the booking is claimed before it is read, its guest
-- before their tables are counted.
create or replace function backroom.booking_check() returns trigger
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

    perform backroom.claim('booking', bid);

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

    perform backroom.claim('guest', b.guest_id);
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

-- Holds ----------------------------------------------------------------------------------
-- As in 0002, with the table claimed instead of an advisory lock; still the
-- system's own work (it clears anyone's lapsed hold), so still a definer.

create or replace function backroom.hold_before_insert() returns trigger
language plpgsql security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    secs int;
    taken record;
begin
    perform backroom.claim('table', new.table_id);

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

-- A renewal claims the table too. A booking that found the hold lapsed has
-- then either committed (and the hold is refused here, being lapsed by now)
-- or not yet claimed (and will see the renewal).
create function backroom.hold_renewal() returns trigger
language plpgsql as $$
begin
    perform backroom.claim('table', new.table_id);
    if old.expires_at <= clock_timestamp() and new.expires_at > clock_timestamp() then
        raise exception 'this hold lapsed at %; hold the table again', old.expires_at
            using errcode = 'BR014',
                  detail = json_build_object('hold_id', old.id, 'table_id', old.table_id,
                                             'expired_at', old.expires_at)::text;
    end if;
    return new;
end
$$;

-- After hold_at_most (name order), which has already bounded the new expiry.
create trigger hold_renewal
    before update on backroom.hold
    for each row execute function backroom.hold_renewal();

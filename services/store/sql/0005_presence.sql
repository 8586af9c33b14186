-- Presence of consoles, the commit time in change notifications, and the
-- connection figures the health screen shows.

-- Presence ------------------------------------------------------------------------
-- One row per running console: who is signed in and what they look at. A
-- console beats every few seconds through its own dedicated connection; a row
-- counts only while its beat is fresh and the backend that wrote it is alive,
-- so a console whose connection dies drops out at the next look, and one that
-- hangs with its connection open drops out when its beat goes stale.

create table backroom.presence (
    console_id     uuid primary key,
    staff_id       int references backroom.staff(id) on delete cascade,
    staff_name     text not null,
    role           text,
    screen         text,
    night_id       int,
    selected_table smallint,
    held_table     smallint,
    backend_pid    int not null,
    started_at     timestamptz not null default clock_timestamp(),
    last_seen      timestamptz not null default clock_timestamp()
);

alter table backroom.presence enable row level security;
grant select on backroom.presence to backroom_console;
create policy console_read on backroom.presence for select to backroom_console using (true);

-- Writes go through these two functions only: the console cannot write rows
-- of its own choosing, and a beat also clears the dead.
create function backroom.presence_beat(
    p_console uuid, p_staff_id int, p_name text, p_role text, p_screen text,
    p_night int, p_selected smallint, p_held smallint, p_ttl float8 default 10
) returns boolean
language plpgsql volatile security definer set search_path = pg_catalog, backroom as $$
declare
    who_name text := p_name;
    who_role text := p_role;
    before backroom.presence;
    changed boolean;
    purged int;
begin
    if p_staff_id is not null then
        select s.display_name, s.role into who_name, who_role
        from backroom.staff s where s.id = p_staff_id and s.active;
        if not found then
            raise exception 'staff member % is not active', p_staff_id using errcode = '42501';
        end if;
    end if;
    if coalesce(btrim(who_name), '') = '' then
        who_name := 'unknown';
    end if;

    select * into before from backroom.presence where console_id = p_console for update;
    if not found then
        insert into backroom.presence (console_id, staff_id, staff_name, role, screen, night_id,
                                       selected_table, held_table, backend_pid)
        values (p_console, p_staff_id, who_name, who_role, p_screen, p_night, p_selected, p_held,
                pg_backend_pid());
        changed := true;
    else
        changed := (before.staff_id, before.staff_name, before.role, before.screen, before.night_id,
                    before.selected_table, before.held_table, before.backend_pid)
                   is distinct from
                   (p_staff_id, who_name, who_role, p_screen, p_night, p_selected, p_held,
                    pg_backend_pid())
                   -- a row the others had already dropped comes back
                   or before.last_seen < clock_timestamp() - make_interval(secs => p_ttl);
        update backroom.presence
        set staff_id = p_staff_id, staff_name = who_name, role = who_role, screen = p_screen,
            night_id = p_night, selected_table = p_selected, held_table = p_held,
            backend_pid = pg_backend_pid(), last_seen = clock_timestamp()
        where console_id = p_console;
    end if;

    -- Clear consoles that are gone; skip rows another beat is clearing now.
    delete from backroom.presence
    where console_id in (
        select p.console_id from backroom.presence p
        where p.console_id <> p_console
          and (p.last_seen < clock_timestamp() - make_interval(secs => p_ttl)
               or not exists (select from pg_stat_activity a where a.pid = p.backend_pid))
        for update skip locked);
    get diagnostics purged = row_count;

    if changed or purged > 0 then
        perform pg_notify('backroom_presence', p_console::text);
    end if;
    return changed;
end
$$;

create function backroom.presence_leave(p_console uuid) returns void
language plpgsql volatile security definer set search_path = pg_catalog, backroom as $$
begin
    delete from backroom.presence where console_id = p_console;
    if found then
        perform pg_notify('backroom_presence', p_console::text);
    end if;
end
$$;

revoke all on function backroom.presence_beat(uuid, int, text, text, text, int, smallint, smallint, float8)
    from public;
revoke all on function backroom.presence_leave(uuid) from public;
grant execute on function backroom.presence_beat(uuid, int, text, text, text, int, smallint, smallint, float8)
    to backroom_console;
grant execute on function backroom.presence_leave(uuid) to backroom_console;

-- Change notifications carry the time of the change ----------------------------------
-- `ts` is clock_timestamp() when the row changed (seconds since the epoch), a
-- moment at or just before the commit: consoles measure commit-to-console
-- latency from it. Every other field is as before.

create function backroom.change_payload(tbl text, op text, r jsonb) returns jsonb
language sql volatile security definer set search_path = pg_catalog, backroom as $$
    select case tbl
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
        else jsonb_build_object('kind', tbl, 'id', r->'id', 'night', r->'night_id')
    end || jsonb_build_object('op', lower(op), 'ts', round(extract(epoch from clock_timestamp()), 6))
$$;
revoke all on function backroom.change_payload(text, text, jsonb) from public;

create or replace function backroom.notify_change() returns trigger
language plpgsql security definer set search_path = pg_catalog, backroom as $$
begin
    perform pg_notify('backroom_changes',
                      backroom.change_payload(tg_table_name, tg_op, to_jsonb(coalesce(new, old)))::text);
    return null;
end
$$;

-- Connection figures for the health screen -----------------------------------------
-- Counts only, never the text of anyone's query: the console role cannot read
-- other sessions' state from pg_stat_activity, and needs no more than this.

create function backroom.connection_stats()
returns table (application_name text, state text, connections int)
language sql stable security definer set search_path = pg_catalog, backroom as $$
    select coalesce(a.application_name, ''), coalesce(a.state, 'unknown'), count(*)::int
    from pg_stat_activity a
    where a.datname = current_database() and a.backend_type = 'client backend'
    group by 1, 2
    order by 1, 2
$$;
revoke all on function backroom.connection_stats() from public;
grant execute on function backroom.connection_stats() to backroom_console;

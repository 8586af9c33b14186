-- A manager opens a night the seed did not: from yesterday's business date to a
-- year ahead, with the venue's own hours (closing after midnight ends the next
-- day), in the venue's time zone. Opening a night that is already there opens
-- nothing and answers with it.

create function backroom.open_night(p_date date) returns int
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    v backroom.venue;
    today date;
    night_id int;
begin
    if backroom.current_staff_role() is null
       or backroom.current_staff_role() not in ('manager', 'admin') then
        raise exception 'only a manager or an admin may open a night' using errcode = '42501';
    end if;
    select * into v from backroom.venue order by id limit 1;
    if v.id is null then
        raise exception 'there is no venue' using errcode = 'P0002';
    end if;
    today := (clock_timestamp() at time zone v.timezone)::date;
    if p_date is null or p_date < today - 1 or p_date > today + 366 then
        raise exception 'a night can be opened from yesterday to a year ahead, not on %', p_date
            using errcode = 'BR016',
                  detail = json_build_object('first', today - 1, 'last', today + 366)::text;
    end if;
    insert into backroom.night (venue_id, date, starts_at, ends_at)
    values (v.id, p_date, (p_date + v.opens_at) at time zone v.timezone,
            ((case when v.closes_at <= v.opens_at then p_date + 1 else p_date end) + v.closes_at)
                at time zone v.timezone)
    on conflict (venue_id, date) do nothing
    returning id into night_id;
    if night_id is null then
        select n.id into night_id from backroom.night n where n.venue_id = v.id and n.date = p_date;
        return night_id;
    end if;
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)
    values (backroom.current_staff_id(), 'open_night', 'night', night_id,
            jsonb_build_object('date', p_date));
    return night_id;
end
$$;
revoke all on function backroom.open_night(date) from public;
grant execute on function backroom.open_night(date) to backroom_console;

insert into backroom.audit_operation (name, kind) values ('open_night', 'function')
on conflict (name) do nothing;

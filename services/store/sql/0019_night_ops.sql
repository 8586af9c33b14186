-- The club's night beside the tables: guest lists, the headcount against the
-- licensed capacity, the ban list, spend against the minimum, and alerts.
--
-- The shape of every change here: one function of this schema, run as its
-- owner, that
--   * asks the session's role first (backroom.current_staff_role(): none while
--     a session is locked, so a locked console changes nothing),
--   * records the client's operation id in backroom.operation before anything
--     else (a retry with the same id gets the first answer and changes nothing),
--   * names the operation of the audit rows itself (backroom.op), whatever the
--     client set,
--   * claims the row its rule is about by updating it before it reads (as 0012:
--     a rival waits at read committed, and is refused with 40001 at repeatable
--     read and serializable), and
--   * refuses with a code of its own (BNnnn) and a JSON detail.
-- The console's role may read these tables (by policy) and write none of them.
--
-- Refusals:
--   BN001 the operation id was used for something else
--   BN002 no such list (or not one of the promoter's own)
--   BN003 the list closed at its cut-off
--   BN004 the list is full
--   BN005 more plus-ones than the list allows
--   BN006 the name is on the list already
--   BN007 a name with arrivals stays on the list
--   BN008 arrivals out of range (more than the name's party, or fewer than in)
--   BN009 no such name on the list (or removed)
--   BN010 at capacity: a manager's override with a reason lets more in
--   BN011 an override needs a manager's session with a fresh code
--   BN012 nobody to count out
--   BN013 a probable ban match: a manager's override with a reason lets them in
--   BN014 no such ban / alert / booking for this change
--   BN015 spend on a booking that is not in, or closed out already
--   BN016 text too long, empty, or with control characters

-- Fuzzy names -----------------------------------------------------------------------
do $$
begin
    if exists (select from pg_available_extensions where name = 'pg_trgm') then
        create extension if not exists pg_trgm with schema public;
    end if;
end
$$;

-- How much `b` looks like what was typed (`a`), from 0 to 1: trigram similarity
-- where pg_trgm is there, else exact, prefix and substring matches.
do $$
begin
    if exists (select from pg_extension where extname = 'pg_trgm') then
        create function backroom.name_likeness(a text, b text) returns real
        language sql stable set search_path = pg_catalog, public, pg_temp as $f$
            select greatest(public.similarity(lower(btrim(a)), lower(btrim(b))),
                            public.word_similarity(lower(btrim(a)), lower(btrim(b))),
                            case when lower(btrim(b)) like
                                      replace(replace(replace(lower(btrim(a)), '\', '\\'), '%', '\%'), '_', '\_')
                                      || '%' then 0.9 else 0 end)::real
        $f$;
    else
        create function backroom.name_likeness(a text, b text) returns real
        language sql stable set search_path = pg_catalog, pg_temp as $f$
            select (case
                when lower(btrim(a)) = lower(btrim(b)) then 1.0
                when lower(btrim(b)) like replace(replace(replace(lower(btrim(a)), '\', '\\'), '%', '\%'), '_', '\_')
                                          || '%' then 0.9
                when lower(btrim(b)) like '%' || replace(replace(replace(lower(btrim(a)), '\', '\\'), '%', '\%'), '_', '\_')
                                          || '%' then 0.6
                else 0 end)::real
        $f$;
    end if;
end
$$;
revoke all on function backroom.name_likeness(text, text) from public;

-- Whether the fuzzy matching of pg_trgm is there.
create function backroom.fuzzy_names() returns boolean
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
    select exists (select from pg_extension where extname = 'pg_trgm')
$$;
revoke all on function backroom.fuzzy_names() from public;
grant execute on function backroom.fuzzy_names() to backroom_console;

-- The promoter ----------------------------------------------------------------------
alter table backroom.staff drop constraint staff_role_check;
alter table backroom.staff add constraint staff_role_check
    check (role in ('door', 'manager', 'admin', 'support', 'promoter'));

-- The role a session reads with: its staff member's, locked or not (a locked
-- console reads what its staff member may, and changes nothing).
create function backroom.reading_role() returns text
language sql stable security definer set search_path = pg_catalog, backroom, pg_temp as $$
    select s.role from backroom.staff s where s.id = backroom.current_staff_id() and s.active
$$;
revoke all on function backroom.reading_role() from public;
grant execute on function backroom.reading_role() to backroom_console;

-- A promoter reads the venue and its nights, their own staff row and operations,
-- and nothing else of what was there before: no bookings, guests, audit or staff.
-- Restrictive, so it holds whatever the permissive policies say (and whatever
-- apply_console_rules() makes of them).
do $$
declare
    t record;
    own text;
begin
    for t in
        select c.relname from pg_class c
        where c.relnamespace = 'backroom'::regnamespace and c.relkind = 'r' and c.relrowsecurity
    loop
        own := case t.relname
            when 'venue' then 'true'
            when 'night' then 'true'
            when 'floor' then 'true'
            when 'audit_operation' then 'true'
            when 'staff' then 'id = (select backroom.current_staff_id())'
            when 'operation' then 'staff_id = (select backroom.current_staff_id())'
            else 'false' end;
        -- For every role (the console's, and Supabase's API users where they exist).
        execute format(
            'create policy not_promoter on backroom.%I as restrictive for all to public'
            ' using ((select backroom.reading_role()) is distinct from ''promoter'' or %s)',
            t.relname, own);
    end loop;
    if exists (select from pg_roles where rolname = 'authenticated') then
        grant execute on function backroom.reading_role() to authenticated;
    end if;
end
$$;

-- The night's changes are announced as every other change is (backroom.change_payload),
-- by a trigger of their own: Supabase's broadcast (0006) covers the tables of bookings only.
-- Spend names the booking's tables, so only their tiles redraw.
create function backroom.notify_night_change() returns trigger
language plpgsql security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    r jsonb := to_jsonb(coalesce(new, old));
    payload jsonb := backroom.change_payload(tg_table_name, tg_op, r);
begin
    if tg_table_name in ('spend', 'spend_close') then
        payload := payload || jsonb_build_object(
            'booking', r->'booking_id',
            'tables', (select coalesce(jsonb_agg(bt.table_id order by bt.table_id), '[]')
                       from backroom.booking_table bt where bt.booking_id = (r->>'booking_id')::int));
    end if;
    perform pg_notify('backroom_changes', payload::text);
    return null;
end
$$;
revoke all on function backroom.notify_night_change() from public;

-- The ban list's history is the managers', in the audit trail too.
create policy bans_are_managers on backroom.audit_log as restrictive for select to backroom_console
    using (entity <> 'ban' or (select backroom.reading_role()) in ('manager', 'admin'));

-- Operations of this migration ------------------------------------------------------
insert into backroom.audit_operation (name, kind) values
    ('guest_list_create', 'console'),
    ('guest_list_change', 'console'),
    ('guest_list_add', 'console'),
    ('guest_list_remove', 'console'),
    ('guest_list_check_in', 'console'),
    ('door_count', 'console'),
    ('ban_add', 'console'),
    ('ban_lift', 'console'),
    ('spend_record', 'console'),
    ('spend_close_out', 'console'),
    ('alert_send', 'console'),
    ('alert_dismiss', 'console'),
    ('alert_clear', 'console')
on conflict (name) do nothing;

-- The start of every change: the session may make it, and its op id is claimed.
-- Returns the stored answer of an earlier try with the same id, or null.
create function backroom.night_op_begin(p_op_id uuid, p_kind text, p_roles text[]) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    r backroom.operation;
begin
    if backroom.current_staff_role() is null or not (backroom.current_staff_role() = any (p_roles)) then
        raise exception '% is not for this session (%)', p_kind,
            coalesce(backroom.current_staff_role(), 'no role: signed out or locked')
            using errcode = '42501',
                  detail = json_build_object('role', backroom.current_staff_role())::text;
    end if;
    if p_op_id is null then
        raise exception 'a change needs an operation id' using errcode = '22023';
    end if;
    perform set_config('backroom.op', p_kind, true);
    perform set_config('backroom.op_id', p_op_id::text, true);
    insert into backroom.operation (op_id, kind, staff_id)
    values (p_op_id, p_kind, backroom.current_staff_id())
    on conflict (op_id) do nothing;
    if found then
        return null;
    end if;
    select * into r from backroom.operation where op_id = p_op_id;
    if r.kind is distinct from p_kind or r.staff_id is distinct from backroom.current_staff_id()
       or r.result is null then
        raise exception 'operation id % was already used for something else', p_op_id
            using errcode = 'BN001', detail = json_build_object('kind', r.kind)::text;
    end if;
    return r.result;
end
$$;
revoke all on function backroom.night_op_begin(uuid, text, text[]) from public;

create function backroom.night_op_end(p_op_id uuid, p_result jsonb) returns jsonb
language sql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
    update backroom.operation set result = p_result where op_id = p_op_id;
    select p_result
$$;
revoke all on function backroom.night_op_end(uuid, jsonb) from public;

-- Typed text: trimmed, within `most` characters, one line, no control characters.
create function backroom.night_text(p_what text, p_value text, p_most int, p_empty_ok boolean)
returns text
language plpgsql immutable set search_path = pg_catalog, pg_temp as $$
declare
    v text := btrim(coalesce(p_value, ''));
begin
    if (v = '' and not p_empty_ok) or length(v) > p_most or v ~ '[[:cntrl:]\u0080-\u009f]' then
        raise exception '% must be 1 to % characters on one line', p_what, p_most
            using errcode = 'BN016',
                  detail = json_build_object('what', p_what, 'most', p_most, 'empty', v = '')::text;
    end if;
    return v;
end
$$;
revoke all on function backroom.night_text(text, text, int, boolean) from public;

-- A refusal of this migration's changes, written after the refusal rolled back.
create function backroom.log_night_refusal(p_operation text, p_entity text, p_entity_id int, p_op_id uuid,
                                           p_reason jsonb)
returns void
language plpgsql security definer set search_path = pg_catalog, backroom, pg_temp as $$
begin
    if backroom.current_staff_role() is null then
        raise exception 'a refusal is recorded for a signed-in staff member only' using errcode = '42501';
    end if;
    if p_operation not in ('guest_list_create', 'guest_list_change', 'guest_list_add', 'guest_list_remove', 'guest_list_check_in',
                           'door_count', 'ban_add', 'ban_lift', 'spend_record', 'spend_close_out',
                           'alert_send', 'alert_dismiss', 'alert_clear')
       or p_entity not in ('guest_list', 'guest_list_name', 'headcount', 'ban', 'spend', 'alert')
       or length(coalesce(p_reason::text, '')) > 4000 then
        raise exception 'not a refusal this database records' using errcode = '22023';
    end if;
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, op_id, before, after)
    values (backroom.current_staff_id(), 'refused:' || p_operation, p_entity, p_entity_id, p_op_id,
            null, p_reason);
end
$$;
revoke all on function backroom.log_night_refusal(text, text, int, uuid, jsonb) from public;
grant execute on function backroom.log_night_refusal(text, text, int, uuid, jsonb) to backroom_console;

-- A manager's override: a manager's or admin's session with a fresh code, and a reason.
create function backroom.night_override(p_reason text, p_code text, p_detail jsonb) returns text
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    reason text := btrim(coalesce(p_reason, ''));
begin
    if reason = '' then
        raise exception 'a manager''s override with a reason is needed'
            using errcode = p_code, detail = p_detail::text;
    end if;
    if backroom.current_staff_role() not in ('manager', 'admin') or not backroom.stepped_up_recently() then
        raise exception 'an override needs a manager''s session and a fresh code'
            using errcode = 'BN011', detail = p_detail::text;
    end if;
    return backroom.night_text('The reason', reason, 200, false);
end
$$;
revoke all on function backroom.night_override(text, text, jsonb) from public;

-- Guest lists -----------------------------------------------------------------------
create table backroom.guest_list (
    id            int generated always as identity primary key,
    night_id      int not null references backroom.night(id),
    name          text not null check (length(btrim(name)) between 1 and 80
                                       and name !~ '[[:cntrl:]\u0080-\u009f]'),
    owner_id      int not null references backroom.staff(id),
    max_names     int not null check (max_names between 1 and 5000),
    max_plus_ones smallint not null default 0 check (max_plus_ones between 0 and 50),
    closes_at     timestamptz not null,
    -- Names on the list now (not removed): claimed by every add and removal.
    name_count    int not null default 0,
    created_by    int references backroom.staff(id),
    created_at    timestamptz not null default clock_timestamp(),
    unique (night_id, name),
    check (name_count between 0 and max_names)
);

create table backroom.guest_list_name (
    id            int generated always as identity primary key,
    list_id       int not null references backroom.guest_list(id),
    night_id      int not null references backroom.night(id),
    name          text not null check (length(btrim(name)) between 1 and 120
                                       and name !~ '[[:cntrl:]\u0080-\u009f]'),
    plus_ones     smallint not null default 0 check (plus_ones between 0 and 50),
    note          text not null default '' check (length(note) <= 200),
    arrived_count smallint not null default 0 check (arrived_count >= 0),
    arrived_at    timestamptz,
    added_by      int references backroom.staff(id),
    added_at      timestamptz not null default clock_timestamp(),
    removed_at    timestamptz,
    removed_by    int references backroom.staff(id),
    override_reason text,
    version       int not null default 1,
    check (arrived_count <= plus_ones + 1),
    check (removed_at is null or arrived_count = 0)
);
create unique index guest_list_name_once on backroom.guest_list_name (list_id, lower(btrim(name)))
    where removed_at is null;
create index guest_list_name_night_idx on backroom.guest_list_name (night_id);

-- The list's own rules, whoever writes: its night, its cap on plus-ones.
create function backroom.guest_list_name_check() returns trigger
language plpgsql security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    l backroom.guest_list;
begin
    select * into l from backroom.guest_list where id = new.list_id;
    new.night_id := l.night_id;
    if new.plus_ones > l.max_plus_ones and (tg_op = 'INSERT' or new.plus_ones > old.plus_ones) then
        raise exception '% may bring at most % guest(s) on this list', new.name, l.max_plus_ones
            using errcode = 'BN005',
                  detail = json_build_object('name', new.name, 'most', l.max_plus_ones)::text;
    end if;
    if tg_op = 'UPDATE' then
        new.version := old.version + 1;
    end if;
    return new;
end
$$;
revoke all on function backroom.guest_list_name_check() from public;
create trigger guest_list_name_check before insert or update on backroom.guest_list_name
    for each row execute function backroom.guest_list_name_check();

alter table backroom.guest_list enable row level security;
alter table backroom.guest_list_name enable row level security;
grant select on backroom.guest_list, backroom.guest_list_name to backroom_console;
create policy staff_read on backroom.guest_list for select to backroom_console
    using ((select backroom.reading_role()) in ('door', 'manager', 'admin', 'support')
           or ((select backroom.reading_role()) = 'promoter'
               and owner_id = (select backroom.current_staff_id())));
create policy staff_read on backroom.guest_list_name for select to backroom_console
    using ((select backroom.reading_role()) in ('door', 'manager', 'admin', 'support')
           or ((select backroom.reading_role()) = 'promoter'
               and list_id in (select l.id from backroom.guest_list l
                               where l.owner_id = (select backroom.current_staff_id()))));

create trigger guest_list_audit after insert or update or delete on backroom.guest_list
    for each row execute function backroom.audit();
create trigger guest_list_notify after insert or update or delete on backroom.guest_list
    for each row execute function backroom.notify_night_change();
create trigger guest_list_name_audit after insert or update or delete on backroom.guest_list_name
    for each row execute function backroom.audit();
create trigger guest_list_name_notify after insert or update or delete on backroom.guest_list_name
    for each row execute function backroom.notify_night_change();

-- A manager makes a list for a night, owned by a promoter or a host.
create function backroom.guest_list_create(p_op_id uuid, p_night_id int, p_name text, p_owner_id int,
                                           p_max_names int, p_max_plus_ones int, p_closes_at timestamptz)
returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    done jsonb := backroom.night_op_begin(p_op_id, 'guest_list_create', array['manager', 'admin']);
    n backroom.night;
    new_id int;
begin
    if done is not null then
        return done;
    end if;
    select * into n from backroom.night where id = p_night_id;
    if n.id is null then
        raise exception 'there is no night %', p_night_id using errcode = 'BN014',
            detail = json_build_object('what', 'night')::text;
    end if;
    if not exists (select from backroom.staff where id = p_owner_id and active
                   and role in ('promoter', 'door', 'manager', 'admin')) then
        raise exception 'a list is owned by an active promoter or host' using errcode = 'BN014',
            detail = json_build_object('what', 'owner')::text;
    end if;
    if p_closes_at is null or p_closes_at > n.ends_at then
        raise exception 'a list closes by the end of its night' using errcode = 'BN016',
            detail = json_build_object('what', 'The cut-off', 'ends', n.ends_at)::text;
    end if;
    if p_max_names is null or p_max_names not between 1 and 5000
       or p_max_plus_ones is null or p_max_plus_ones not between 0 and 50 then
        raise exception 'a list takes 1 to 5000 names and 0 to 50 plus-ones each' using errcode = 'BN016',
            detail = json_build_object('what', 'The caps')::text;
    end if;
    begin
        insert into backroom.guest_list (night_id, name, owner_id, max_names, max_plus_ones, closes_at,
                                         created_by)
        values (p_night_id, backroom.night_text('The list''s name', p_name, 80, false), p_owner_id,
                p_max_names, p_max_plus_ones, p_closes_at, backroom.current_staff_id())
        returning id into new_id;
    exception when unique_violation then
        raise exception 'that night has a list of that name already' using errcode = 'BN006',
            detail = json_build_object('name', btrim(p_name), 'what', 'list')::text;
    end;
    return backroom.night_op_end(p_op_id, jsonb_build_object('list_id', new_id));
end
$$;

-- A manager changes a list's caps or cut-off (null keeps what is there). A cap below the
-- names already on it is refused.
create function backroom.guest_list_change(p_op_id uuid, p_list_id int, p_max_names int,
                                           p_max_plus_ones int, p_closes_at timestamptz)
returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    done jsonb := backroom.night_op_begin(p_op_id, 'guest_list_change', array['manager', 'admin']);
    l backroom.guest_list;
begin
    if done is not null then
        return done;
    end if;
    select * into l from backroom.guest_list where id = p_list_id for update;
    if l.id is null then
        raise exception 'there is no list %', p_list_id using errcode = 'BN002';
    end if;
    if p_max_names is not null and p_max_names < l.name_count then
        raise exception 'list % has % names already', l.name, l.name_count using errcode = 'BN004',
            detail = json_build_object('list', l.name, 'most', p_max_names, 'room', 0,
                                       'names', l.name_count)::text;
    end if;
    if (p_max_names is not null and p_max_names not between 1 and 5000)
       or (p_max_plus_ones is not null and p_max_plus_ones not between 0 and 50)
       or (p_closes_at is not null
           and p_closes_at > (select n.ends_at from backroom.night n where n.id = l.night_id)) then
        raise exception 'a list takes 1 to 5000 names, 0 to 50 plus-ones, and closes by its night''s end'
            using errcode = 'BN016', detail = json_build_object('what', 'The change')::text;
    end if;
    update backroom.guest_list
    set max_names = coalesce(p_max_names, max_names),
        max_plus_ones = coalesce(p_max_plus_ones, max_plus_ones),
        closes_at = coalesce(p_closes_at, closes_at)
    where id = p_list_id
    returning * into l;
    return backroom.night_op_end(p_op_id, jsonb_build_object('list_id', l.id));
end
$$;

-- The list a promoter may change now, or a manager any time; claimed for `claim` names more.
create function backroom.guest_list_claim(p_list_id int, p_claim int) returns backroom.guest_list
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    l backroom.guest_list;
begin
    select * into l from backroom.guest_list where id = p_list_id;
    if l.id is null or (backroom.current_staff_role() = 'promoter' and l.owner_id <> backroom.current_staff_id()) then
        raise exception 'there is no list % of yours', p_list_id using errcode = 'BN002';
    end if;
    if backroom.current_staff_role() = 'promoter' and clock_timestamp() >= l.closes_at then
        raise exception 'list % closed at its cut-off', l.name using errcode = 'BN003',
            detail = json_build_object('list', l.name, 'closed_at', l.closes_at)::text;
    end if;
    update backroom.guest_list set name_count = name_count + p_claim
    where id = p_list_id and name_count + p_claim <= max_names
    returning * into l;
    if l.id is null then
        select * into l from backroom.guest_list where id = p_list_id;
        raise exception 'list % is full', l.name using errcode = 'BN004',
            detail = json_build_object('list', l.name, 'most', l.max_names,
                                       'room', greatest(l.max_names - l.name_count, 0))::text;
    end if;
    return l;
end
$$;
revoke all on function backroom.guest_list_claim(int, int) from public;

-- Names added at once, all or none: [{"name": "...", "plus_ones": 2, "note": "..."}, ...].
create function backroom.guest_list_add(p_op_id uuid, p_list_id int, p_names jsonb) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    done jsonb := backroom.night_op_begin(p_op_id, 'guest_list_add', array['promoter', 'manager', 'admin']);
    l backroom.guest_list;
    item jsonb;
    ids int[] := '{}';
    new_id int;
    who text;
begin
    if done is not null then
        return done;
    end if;
    if jsonb_typeof(p_names) is distinct from 'array' or jsonb_array_length(p_names) not between 1 and 500 then
        raise exception 'from 1 to 500 names at once' using errcode = 'BN016',
            detail = json_build_object('what', 'The names')::text;
    end if;
    l := backroom.guest_list_claim(p_list_id, jsonb_array_length(p_names));
    for item in select value from jsonb_array_elements(p_names) loop
        who := backroom.night_text('A name', item->>'name', 120, false);
        begin
            insert into backroom.guest_list_name (list_id, night_id, name, plus_ones, note, added_by)
            values (l.id, l.night_id, who, coalesce((item->>'plus_ones')::smallint, 0),
                    backroom.night_text('A note', item->>'note', 200, true), backroom.current_staff_id())
            returning id into new_id;
        exception when unique_violation then
            raise exception '% is on list % already', who, l.name using errcode = 'BN006',
                detail = json_build_object('name', who, 'list', l.name)::text;
        when check_violation or numeric_value_out_of_range or invalid_text_representation then
            raise exception 'the plus-ones of % are not a count from 0 to %', who, l.max_plus_ones
                using errcode = 'BN005', detail = json_build_object('name', who, 'most', l.max_plus_ones)::text;
        end;
        ids := ids || new_id;
    end loop;
    return backroom.night_op_end(p_op_id, jsonb_build_object('list_id', l.id, 'ids', to_jsonb(ids)));
end
$$;

create function backroom.guest_list_remove(p_op_id uuid, p_name_id int) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    done jsonb := backroom.night_op_begin(p_op_id, 'guest_list_remove', array['promoter', 'manager', 'admin']);
    g backroom.guest_list_name;
begin
    if done is not null then
        return done;
    end if;
    select * into g from backroom.guest_list_name where id = p_name_id;
    if g.id is null then
        raise exception 'there is no name % on a list of yours', p_name_id using errcode = 'BN009';
    end if;
    perform backroom.guest_list_claim(g.list_id, -1);
    select * into g from backroom.guest_list_name where id = p_name_id and removed_at is null for update;
    if g.id is null then
        raise exception 'that name is not on the list' using errcode = 'BN009';
    end if;
    if g.arrived_count > 0 then
        raise exception '% has arrived and stays on the list', g.name using errcode = 'BN007',
            detail = json_build_object('name', g.name, 'arrived', g.arrived_count)::text;
    end if;
    update backroom.guest_list_name set removed_at = clock_timestamp(), removed_by = backroom.current_staff_id()
    where id = p_name_id;
    return backroom.night_op_end(p_op_id, jsonb_build_object('name_id', p_name_id, 'list_id', g.list_id));
end
$$;

-- The headcount -----------------------------------------------------------------------
alter table backroom.venue add column capacity int check (capacity is null or capacity between 1 and 100000);

create table backroom.headcount (
    night_id   int primary key references backroom.night(id),
    capacity   int check (capacity is null or capacity >= 1),
    inside     int not null default 0,
    peak       int not null default 0,
    peak_at    timestamptz,
    version    int not null default 1,
    updated_at timestamptz not null default clock_timestamp()
);

create table backroom.door_count_event (
    id              bigint generated always as identity primary key,
    night_id        int not null references backroom.night(id),
    door            text not null default '' check (length(door) <= 40 and door !~ '[[:cntrl:]]'),
    change          int not null check (change <> 0),
    inside_after    int not null,
    over_capacity   boolean not null default false,
    override_reason text check (override_reason is null or length(override_reason) <= 200),
    guest_list_name_id int references backroom.guest_list_name(id),
    staff_id        int references backroom.staff(id),
    op_id           uuid,
    at              timestamptz not null default clock_timestamp(),
    check (not over_capacity or override_reason is not null)
);
create index door_count_event_night_idx on backroom.door_count_event (night_id, at);

alter table backroom.headcount enable row level security;
alter table backroom.door_count_event enable row level security;
grant select on backroom.headcount, backroom.door_count_event to backroom_console;
create policy staff_read on backroom.headcount for select to backroom_console
    using ((select backroom.reading_role()) in ('door', 'manager', 'admin', 'support'));
create policy staff_read on backroom.door_count_event for select to backroom_console
    using ((select backroom.reading_role()) in ('door', 'manager', 'admin', 'support'));

create trigger door_count_event_audit after insert or update or delete on backroom.door_count_event
    for each row execute function backroom.audit();
create trigger headcount_notify after insert or update on backroom.headcount
    for each row execute function backroom.notify_night_change();

-- People in (`change` > 0) or out (< 0) at a door: the night's one count is claimed
-- first, so two doors racing for the last place take turns (or the second is told
-- to try again at repeatable read and above). Passing capacity needs an override.
create function backroom.count_people(p_night_id int, p_change int, p_door text, p_override text,
                                      p_name_id int)
returns backroom.headcount
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    h backroom.headcount;
    over boolean;
    reason text;
begin
    if p_change is null or p_change = 0 or abs(p_change) > 100 then
        raise exception 'count 1 to 100 people at a time' using errcode = 'BN016',
            detail = json_build_object('what', 'The count')::text;
    end if;
    if not exists (select from backroom.night where id = p_night_id) then
        raise exception 'there is no night %', p_night_id using errcode = 'BN014',
            detail = json_build_object('what', 'night')::text;
    end if;
    insert into backroom.headcount (night_id, capacity)
    select p_night_id, v.capacity from backroom.venue v order by v.id limit 1
    on conflict (night_id) do nothing;
    -- The claim: a rival door's count waits for ours, or fails to serialize.
    update backroom.headcount set inside = inside + p_change, version = version + 1,
                                  updated_at = clock_timestamp()
    where night_id = p_night_id
    returning * into h;
    if h.inside < 0 then
        raise exception 'only % are counted in', h.inside - p_change using errcode = 'BN012',
            detail = json_build_object('inside', h.inside - p_change, 'out', -p_change)::text;
    end if;
    over := p_change > 0 and h.capacity is not null and h.inside > h.capacity;
    if over then
        reason := backroom.night_override(p_override, 'BN010', json_build_object(
            'capacity', h.capacity, 'inside', h.inside - p_change, 'asked', p_change)::jsonb);
    end if;
    if h.inside > h.peak then
        update backroom.headcount set peak = inside, peak_at = clock_timestamp()
        where night_id = p_night_id returning * into h;
    end if;
    insert into backroom.door_count_event (night_id, door, change, inside_after, over_capacity,
                                           override_reason, guest_list_name_id, staff_id, op_id)
    values (p_night_id, backroom.night_text('The door', p_door, 40, true), p_change, h.inside, over, reason,
            p_name_id, backroom.current_staff_id(), nullif(current_setting('backroom.op_id', true), '')::uuid);
    return h;
end
$$;
revoke all on function backroom.count_people(int, int, text, text, int) from public;

create function backroom.door_count(p_op_id uuid, p_night_id int, p_change int, p_door text,
                                    p_override text)
returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    done jsonb := backroom.night_op_begin(p_op_id, 'door_count', array['door', 'manager', 'admin']);
    h backroom.headcount;
begin
    if done is not null then
        return done;
    end if;
    h := backroom.count_people(p_night_id, p_change, p_door, p_override, null);
    return backroom.night_op_end(p_op_id, jsonb_build_object(
        'night_id', h.night_id, 'inside', h.inside, 'capacity', h.capacity, 'peak', h.peak,
        'peak_at', h.peak_at, 'version', h.version));
end
$$;

-- The ban list ------------------------------------------------------------------------
create table backroom.ban (
    id          int generated always as identity primary key,
    name        text not null check (length(btrim(name)) between 1 and 120
                                     and name !~ '[[:cntrl:]\u0080-\u009f]'),
    phone       text check (phone is null or (length(phone) <= 40 and phone !~ '[[:cntrl:]]')),
    email       text check (email is null or (length(email) <= 254 and email !~ '[[:cntrl:]]')),
    reason      text not null check (length(btrim(reason)) between 1 and 200),
    expires_at  timestamptz,
    added_by    int references backroom.staff(id),
    added_at    timestamptz not null default clock_timestamp(),
    lifted_at   timestamptz,
    lifted_by   int references backroom.staff(id),
    lift_reason text check (lift_reason is null or length(lift_reason) <= 200),
    check (lifted_at is null or lift_reason is not null)
);

alter table backroom.ban enable row level security;
grant select on backroom.ban to backroom_console;
-- The history (who added, when, lifted bans) is the managers'.
create policy managers_read on backroom.ban for select to backroom_console
    using ((select backroom.reading_role()) in ('manager', 'admin'));
create trigger ban_audit after insert or update or delete on backroom.ban
    for each row execute function backroom.audit();
create trigger ban_notify after insert or update or delete on backroom.ban
    for each row execute function backroom.notify_night_change();

create function backroom.digits(p text) returns text
language sql immutable set search_path = pg_catalog, pg_temp as $$
    select nullif(regexp_replace(coalesce(p, ''), '[^0-9]', '', 'g'), '')
$$;
revoke all on function backroom.digits(text) from public;

create function backroom.ban_add(p_op_id uuid, p_name text, p_phone text, p_email text, p_reason text,
                                 p_expires_at timestamptz)
returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    done jsonb := backroom.night_op_begin(p_op_id, 'ban_add', array['manager', 'admin']);
    new_id int;
begin
    if done is not null then
        return done;
    end if;
    if p_expires_at is not null and p_expires_at <= clock_timestamp() then
        raise exception 'a ban ends in the future, or never' using errcode = 'BN016',
            detail = json_build_object('what', 'The expiry')::text;
    end if;
    insert into backroom.ban (name, phone, email, reason, expires_at, added_by)
    values (backroom.night_text('The name', p_name, 120, false),
            nullif(backroom.night_text('The phone', p_phone, 40, true), ''),
            nullif(lower(backroom.night_text('The email', p_email, 254, true)), ''),
            backroom.night_text('The reason', p_reason, 200, false), p_expires_at,
            backroom.current_staff_id())
    returning id into new_id;
    return backroom.night_op_end(p_op_id, jsonb_build_object('ban_id', new_id));
end
$$;

create function backroom.ban_lift(p_op_id uuid, p_ban_id int, p_reason text) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    done jsonb := backroom.night_op_begin(p_op_id, 'ban_lift', array['manager', 'admin']);
begin
    if done is not null then
        return done;
    end if;
    update backroom.ban set lifted_at = clock_timestamp(), lifted_by = backroom.current_staff_id(),
                            lift_reason = backroom.night_text('The reason', p_reason, 200, false)
    where id = p_ban_id and lifted_at is null;
    if not found then
        raise exception 'there is no standing ban %', p_ban_id using errcode = 'BN014',
            detail = json_build_object('what', 'ban')::text;
    end if;
    return backroom.night_op_end(p_op_id, jsonb_build_object('ban_id', p_ban_id));
end
$$;

-- What the door may see of the bans standing now that look like this guest: the
-- name, the reason and why it matched, never who added it, when, or lifted bans.
create function backroom.ban_matches(p_name text, p_phone text, p_email text)
returns table (ban_id int, name text, reason text, matched_on text, likeness real)
language plpgsql stable security definer set search_path = pg_catalog, backroom, pg_temp as $$
#variable_conflict use_column
begin
    if backroom.reading_role() is null or backroom.reading_role() = 'promoter' then
        raise exception 'the ban list is for door, support and managers' using errcode = '42501';
    end if;
    return query
    select b.id, b.name, b.reason,
           case when backroom.digits(p_phone) is not null and backroom.digits(b.phone) = backroom.digits(p_phone)
                     then 'phone'
                when nullif(lower(btrim(p_email)), '') is not null and b.email = lower(btrim(p_email))
                     then 'email'
                else 'name' end,
           greatest(backroom.name_likeness(coalesce(p_name, ''), b.name),
                    case when (backroom.digits(p_phone) is not null
                               and backroom.digits(b.phone) = backroom.digits(p_phone))
                              or (nullif(lower(btrim(p_email)), '') is not null
                                  and b.email = lower(btrim(p_email))) then 1 else 0 end)::real as l
    from backroom.ban b
    where b.lifted_at is null and (b.expires_at is null or b.expires_at > clock_timestamp())
      and ((length(btrim(coalesce(p_name, ''))) >= 3
            and backroom.name_likeness(p_name, b.name) >= 0.5
            and backroom.name_likeness(b.name, p_name) >= 0.4)
           or (backroom.digits(p_phone) is not null and backroom.digits(b.phone) = backroom.digits(p_phone))
           or (nullif(lower(btrim(p_email)), '') is not null and b.email = lower(btrim(p_email))))
    order by l desc, b.id
    limit 5;
end
$$;
revoke all on function backroom.ban_matches(text, text, text) from public;
grant execute on function backroom.ban_matches(text, text, text) to backroom_console;

-- Check-in of a list name ---------------------------------------------------------------
-- `p_arrived` is how many of the name's party are in now (as for bookings); the new
-- arrivals count into the headcount at `p_door`. A probable ban match, or passing
-- capacity, needs a manager's override with a reason.
create function backroom.guest_list_check_in(p_op_id uuid, p_name_id int, p_arrived int, p_door text,
                                             p_override text)
returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    done jsonb := backroom.night_op_begin(p_op_id, 'guest_list_check_in', array['door', 'manager', 'admin']);
    g backroom.guest_list_name;
    banned record;
    reason text;
    h backroom.headcount;
begin
    if done is not null then
        return done;
    end if;
    select * into g from backroom.guest_list_name where id = p_name_id and removed_at is null for update;
    if g.id is null then
        raise exception 'that name is not on the list' using errcode = 'BN009';
    end if;
    if p_arrived is null or p_arrived < g.arrived_count or p_arrived > g.plus_ones + 1 then
        raise exception '% of % arriving: % are in already, the party is %', p_arrived, g.name,
            g.arrived_count, g.plus_ones + 1
            using errcode = 'BN008',
                  detail = json_build_object('name', g.name, 'in', g.arrived_count, 'party', g.plus_ones + 1)::text;
    end if;
    if p_arrived = g.arrived_count then
        return backroom.night_op_end(p_op_id, jsonb_build_object(
            'name_id', g.id, 'arrived', g.arrived_count, 'version', g.version));
    end if;
    if g.arrived_count = 0 then
        select * into banned from backroom.ban_matches(g.name, null, null) limit 1;
        if banned.ban_id is not null then
            reason := backroom.night_override(p_override, 'BN013', jsonb_build_object(
                'name', g.name, 'ban_name', banned.name, 'ban_reason', banned.reason,
                'matched_on', banned.matched_on));
        end if;
    end if;
    h := backroom.count_people(g.night_id, p_arrived - g.arrived_count, p_door, p_override, g.id);
    update backroom.guest_list_name
    set arrived_count = p_arrived, arrived_at = coalesce(arrived_at, clock_timestamp()),
        override_reason = coalesce(reason, override_reason)
    where id = g.id
    returning * into g;
    return backroom.night_op_end(p_op_id, jsonb_build_object(
        'name_id', g.id, 'arrived', g.arrived_count, 'version', g.version, 'inside', h.inside,
        'capacity', h.capacity));
end
$$;

-- Door search: list names beside tonight's bookings, best first -----------------------
create function backroom.door_search(p_night_id int, p_query text, p_limit int)
returns table (kind text, id int, name text, list_id int, list_name text, booking_ref text,
               party int, arrived int, status text, likeness real)
language plpgsql stable security definer set search_path = pg_catalog, backroom, pg_temp as $$
#variable_conflict use_column
declare
    q text := btrim(coalesce(p_query, ''));
begin
    if backroom.reading_role() is null or backroom.reading_role() = 'promoter' then
        raise exception 'door search is for door, support and managers' using errcode = '42501';
    end if;
    if q = '' then
        return;
    end if;
    return query
    select * from (
        select 'list'::text, g.id, g.name, l.id, l.name, null::text, g.plus_ones + 1, g.arrived_count::int,
               case when g.arrived_count = 0 then 'listed'
                    when g.arrived_count > g.plus_ones then 'arrived' else 'partly in' end,
               backroom.name_likeness(q, g.name)
        from backroom.guest_list_name g join backroom.guest_list l on l.id = g.list_id
        where g.night_id = p_night_id and g.removed_at is null
        union all
        select 'booking'::text, b.id, gu.name, null::int, null::text, b.ref, b.party_size::int,
               b.arrived_count::int, b.status,
               greatest(backroom.name_likeness(q, gu.name),
                        case when upper(b.ref) = upper(q) then 1
                             when backroom.digits(q) is not null and length(backroom.digits(q)) >= 4
                                  and backroom.digits(gu.phone) like '%' || backroom.digits(q) then 0.95
                             else 0 end)::real
        from backroom.booking b join backroom.guest gu on gu.id = b.guest_id
        join backroom.booking_status s on s.status = b.status
        where b.night_id = p_night_id and (s.active or b.status = 'completed')
    ) hits (kind, id, name, list_id, list_name, booking_ref, party, arrived, status, likeness)
    where hits.likeness >= 0.3
    order by hits.likeness desc, hits.name, hits.id
    limit greatest(1, least(coalesce(p_limit, 20), 100));
end
$$;
revoke all on function backroom.door_search(int, text, int) from public;
grant execute on function backroom.door_search(int, text, int) to backroom_console;

-- Spend against the minimum ------------------------------------------------------------
create table backroom.spend (
    id          int generated always as identity primary key,
    booking_id  int not null references backroom.booking(id),
    night_id    int not null references backroom.night(id),
    amount      numeric(10, 2) not null check (amount <> 0 and amount between -100000 and 100000),
    note        text not null default '' check (length(note) <= 200),
    staff_id    int references backroom.staff(id),
    at          timestamptz not null default clock_timestamp()
);
create index spend_booking_idx on backroom.spend (booking_id);

create table backroom.spend_close (
    booking_id  int primary key references backroom.booking(id),
    night_id    int not null references backroom.night(id),
    id          int generated always as identity unique,
    final_spend numeric(10, 2) not null check (final_spend >= 0),
    outcome     text not null check (outcome in ('paid', 'comped', 'could_not_pay')),
    note        text not null default '' check (length(note) <= 200),
    closed_by   int references backroom.staff(id),
    closed_at   timestamptz not null default clock_timestamp()
);

alter table backroom.spend enable row level security;
alter table backroom.spend_close enable row level security;
grant select on backroom.spend, backroom.spend_close to backroom_console;
create policy staff_read on backroom.spend for select to backroom_console
    using ((select backroom.reading_role()) in ('door', 'manager', 'admin', 'support'));
create policy staff_read on backroom.spend_close for select to backroom_console
    using ((select backroom.reading_role()) in ('door', 'manager', 'admin', 'support'));
create trigger spend_audit after insert or update or delete on backroom.spend
    for each row execute function backroom.audit();
create trigger spend_notify after insert or update or delete on backroom.spend
    for each row execute function backroom.notify_night_change();
create trigger spend_close_audit after insert or update or delete on backroom.spend_close
    for each row execute function backroom.audit();
create trigger spend_close_notify after insert or update or delete on backroom.spend_close
    for each row execute function backroom.notify_night_change();

-- Spend recorded against a party that is in; a correction (a negative amount) is a
-- manager's, and the total never goes below nothing.
create function backroom.spend_record(p_op_id uuid, p_booking_id int, p_amount numeric, p_note text)
returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    done jsonb := backroom.night_op_begin(p_op_id, 'spend_record', array['door', 'manager', 'admin']);
    b backroom.booking;
    total numeric;
    new_id int;
begin
    if done is not null then
        return done;
    end if;
    -- The booking is claimed: spend on one booking is added up one at a time.
    perform backroom.claim('booking', p_booking_id);
    select * into b from backroom.booking where id = p_booking_id;
    if b.id is null then
        raise exception 'there is no booking %', p_booking_id using errcode = 'BN014',
            detail = json_build_object('what', 'booking')::text;
    end if;
    if b.status <> 'arrived' or exists (select from backroom.spend_close where booking_id = b.id) then
        raise exception 'spend is recorded for a party that is in, before close-out (% is %)', b.ref, b.status
            using errcode = 'BN015', detail = json_build_object('ref', b.ref, 'status', b.status)::text;
    end if;
    if p_amount is null or p_amount = 0 or abs(p_amount) > 100000
       or (p_amount < 0 and backroom.current_staff_role() not in ('manager', 'admin')) then
        raise exception 'an amount above 0 (a manager may correct with a negative one)' using errcode = 'BN016',
            detail = json_build_object('what', 'The amount')::text;
    end if;
    select coalesce(sum(amount), 0) + p_amount into total from backroom.spend where booking_id = b.id;
    if total < 0 then
        raise exception 'a correction cannot take the total below nothing' using errcode = 'BN016',
            detail = json_build_object('what', 'The amount')::text;
    end if;
    insert into backroom.spend (booking_id, night_id, amount, note, staff_id)
    values (b.id, b.night_id, round(p_amount, 2), backroom.night_text('The note', p_note, 200, true),
            backroom.current_staff_id())
    returning id into new_id;
    return backroom.night_op_end(p_op_id, jsonb_build_object(
        'spend_id', new_id, 'booking_id', b.id, 'total', total, 'min_spend', b.min_spend));
end
$$;

-- Close-out: the final spend, paid, comped or could-not-pay; the party is completed.
create function backroom.spend_close_out(p_op_id uuid, p_booking_id int, p_final numeric, p_outcome text,
                                         p_note text)
returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    done jsonb := backroom.night_op_begin(p_op_id, 'spend_close_out', array['manager', 'admin']);
    b backroom.booking;
begin
    if done is not null then
        return done;
    end if;
    perform backroom.claim('booking', p_booking_id);
    select * into b from backroom.booking where id = p_booking_id;
    if b.id is null then
        raise exception 'there is no booking %', p_booking_id using errcode = 'BN014',
            detail = json_build_object('what', 'booking')::text;
    end if;
    if b.status <> 'arrived' or exists (select from backroom.spend_close where booking_id = b.id) then
        raise exception 'close-out is for a party that is in (% is %)', b.ref, b.status
            using errcode = 'BN015', detail = json_build_object('ref', b.ref, 'status', b.status)::text;
    end if;
    if p_final is null or p_final < 0 or p_final > 1000000
       or p_outcome is null or p_outcome not in ('paid', 'comped', 'could_not_pay') then
        raise exception 'a final spend of 0 or more, paid, comped or could not pay' using errcode = 'BN016',
            detail = json_build_object('what', 'The close-out')::text;
    end if;
    insert into backroom.spend_close (booking_id, night_id, final_spend, outcome, note, closed_by)
    values (b.id, b.night_id, round(p_final, 2), p_outcome, backroom.night_text('The note', p_note, 200, true),
            backroom.current_staff_id());
    perform set_config('backroom.op', 'complete', true);
    update backroom.booking set status = 'completed', updated_by = backroom.current_staff_id(),
                                updated_at = clock_timestamp()
    where id = b.id returning * into b;
    perform set_config('backroom.op', 'spend_close_out', true);
    return backroom.night_op_end(p_op_id, jsonb_build_object(
        'booking_id', b.id, 'final', round(p_final, 2), 'outcome', p_outcome, 'version', b.version));
end
$$;

-- Alerts -----------------------------------------------------------------------------
create table backroom.alert (
    id          int generated always as identity primary key,
    night_id    int references backroom.night(id),
    preset      text not null check (preset in ('at_capacity', 'police', 'medical', 'fire', 'vip', 'free')),
    body        text not null check (length(btrim(body)) between 1 and 120 and body !~ '[[:cntrl:]]'),
    sent_by     int references backroom.staff(id),
    sent_at     timestamptz not null default clock_timestamp(),
    expires_at  timestamptz not null,
    cleared_at  timestamptz,
    cleared_by  int references backroom.staff(id)
);

create table backroom.alert_dismissal (
    id           int generated always as identity primary key,
    alert_id     int not null references backroom.alert(id),
    console_id   uuid not null,
    staff_id     int references backroom.staff(id),
    dismissed_at timestamptz not null default clock_timestamp(),
    unique (alert_id, console_id)
);

alter table backroom.alert enable row level security;
alter table backroom.alert_dismissal enable row level security;
grant select on backroom.alert, backroom.alert_dismissal to backroom_console;
-- Every console hears alerts, the promoter's too.
create policy staff_read on backroom.alert for select to backroom_console
    using ((select backroom.reading_role()) is not null);
create policy staff_read on backroom.alert_dismissal for select to backroom_console
    using ((select backroom.reading_role()) in ('door', 'manager', 'admin', 'support')
           or staff_id = (select backroom.current_staff_id()));
create trigger alert_audit after insert or update or delete on backroom.alert
    for each row execute function backroom.audit();
create trigger alert_notify after insert or update or delete on backroom.alert
    for each row execute function backroom.notify_night_change();
create trigger alert_dismissal_audit after insert or update or delete on backroom.alert_dismissal
    for each row execute function backroom.audit();

create function backroom.alert_send(p_op_id uuid, p_night_id int, p_preset text, p_body text, p_minutes int)
returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    done jsonb := backroom.night_op_begin(p_op_id, 'alert_send', array['manager', 'admin']);
    body text;
    new_id int;
begin
    if done is not null then
        return done;
    end if;
    body := case p_preset
        when 'at_capacity' then 'At capacity'
        when 'police' then 'Police at the door'
        when 'medical' then 'Medical help needed'
        when 'fire' then 'Fire: follow the evacuation plan'
        when 'vip' then 'VIP arriving'
        when 'free' then backroom.night_text('The alert', p_body, 120, false)
        else null end;
    if body is null then
        raise exception 'not an alert preset' using errcode = 'BN016',
            detail = json_build_object('what', 'The preset')::text;
    end if;
    if p_preset <> 'free' and nullif(btrim(coalesce(p_body, '')), '') is not null then
        body := body || ': ' || backroom.night_text('The alert', p_body, 118 - length(body), false);
    end if;
    insert into backroom.alert (night_id, preset, body, sent_by, expires_at)
    values (p_night_id, p_preset, body, backroom.current_staff_id(),
            clock_timestamp() + make_interval(mins => greatest(1, least(coalesce(p_minutes, 120), 720))))
    returning id into new_id;
    return backroom.night_op_end(p_op_id, jsonb_build_object('alert_id', new_id, 'body', body));
end
$$;

create function backroom.alert_dismiss(p_op_id uuid, p_alert_id int, p_console_id uuid) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    done jsonb := backroom.night_op_begin(p_op_id, 'alert_dismiss',
                                          array['door', 'manager', 'admin', 'support', 'promoter']);
begin
    if done is not null then
        return done;
    end if;
    if p_console_id is null or not exists (select from backroom.alert where id = p_alert_id) then
        raise exception 'there is no alert %', p_alert_id using errcode = 'BN014',
            detail = json_build_object('what', 'alert')::text;
    end if;
    insert into backroom.alert_dismissal (alert_id, console_id, staff_id)
    values (p_alert_id, p_console_id, backroom.current_staff_id())
    on conflict (alert_id, console_id) do nothing;
    return backroom.night_op_end(p_op_id, jsonb_build_object('alert_id', p_alert_id));
end
$$;

create function backroom.alert_clear(p_op_id uuid, p_alert_id int) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, backroom, pg_temp as $$
declare
    done jsonb := backroom.night_op_begin(p_op_id, 'alert_clear', array['manager', 'admin']);
begin
    if done is not null then
        return done;
    end if;
    update backroom.alert set cleared_at = clock_timestamp(), cleared_by = backroom.current_staff_id()
    where id = p_alert_id and cleared_at is null;
    if not found then
        raise exception 'there is no alert % to clear', p_alert_id using errcode = 'BN014',
            detail = json_build_object('what', 'alert')::text;
    end if;
    return backroom.night_op_end(p_op_id, jsonb_build_object('alert_id', p_alert_id));
end
$$;

-- Who may call what: each function asks the session's role itself.
do $$
declare
    f text;
begin
    foreach f in array array[
        'backroom.guest_list_create(uuid,int,text,int,int,int,timestamptz)',
        'backroom.guest_list_change(uuid,int,int,int,timestamptz)',
        'backroom.guest_list_add(uuid,int,jsonb)',
        'backroom.guest_list_remove(uuid,int)',
        'backroom.guest_list_check_in(uuid,int,int,text,text)',
        'backroom.door_count(uuid,int,int,text,text)',
        'backroom.ban_add(uuid,text,text,text,text,timestamptz)',
        'backroom.ban_lift(uuid,int,text)',
        'backroom.spend_record(uuid,int,numeric,text)',
        'backroom.spend_close_out(uuid,int,numeric,text,text)',
        'backroom.alert_send(uuid,int,text,text,int)',
        'backroom.alert_dismiss(uuid,int,uuid)',
        'backroom.alert_clear(uuid,int)']
    loop
        execute format('revoke all on function %s from public', f);
        execute format('grant execute on function %s to backroom_console', f);
    end loop;
    -- Internal pieces and triggers: no client calls them.
    foreach f in array array[
        'backroom.count_people(int,int,text,text,int)',
        'backroom.guest_list_claim(int,int)',
        'backroom.night_override(text,text,jsonb)']
    loop
        execute format('revoke all on function %s from public', f);
    end loop;
end
$$;

-- Supabase: the same schema on a Supabase project, and no change at all on
-- plain Postgres.
--
-- Everything is in backroom_meta.enable_supabase(), called at the end. It
-- looks for what a Supabase project provides and sets up only what it finds:
--
--   auth.uid()              staff.auth_user_id links a staff member to their
--                           Supabase Auth user; backroom.current_staff_id()
--                           names that staff member for a request that carries
--                           a Supabase JWT, so every existing policy applies
--   the authenticated role  the console role's table rights and write policies;
--                           reads only for active staff (any app user may hold
--                           a Supabase session, few are staff)
--   realtime.send()         each change is also broadcast, same payload as the
--                           NOTIFY, on the private Realtime topic backroom:changes
--   realtime.messages       only active staff may join backroom:changes and
--                           backroom:presence, and track presence on the latter
--   supabase_realtime       the tables the apps follow, for Postgres Changes
--
-- Without auth.uid() (plain Postgres) it returns at once and changes nothing.
-- It can be run again (`backroom supabase enable`), for instance after moving
-- a database to Supabase, and returns what it set up.

create schema if not exists backroom_meta;

create or replace function backroom_meta.enable_supabase() returns text[]
language plpgsql
set search_path = pg_catalog
as $fn$
declare
    done text[] := '{}';
    has_api_role boolean := exists (select from pg_roles where rolname = 'authenticated');
    tr record;
    t text;
    roles text;
    followed text[] := array['venue', 'floor', 'venue_table', 'night', 'booking', 'booking_table',
                             'hold'];
begin
    if to_regprocedure('auth.uid()') is null then
        return done;
    end if;

    -- Who a Supabase user is on the staff ---------------------------------------
    if not exists (select from pg_attribute
                   where attrelid = 'backroom.staff'::regclass and attname = 'auth_user_id'
                     and not attisdropped) then
        alter table backroom.staff add column auth_user_id uuid unique;
        comment on column backroom.staff.auth_user_id is
            'The Supabase Auth user (auth.users.id) who signs in as this staff member.';
        if to_regclass('auth.users') is not null then
            begin
                alter table backroom.staff add constraint staff_auth_user_fk
                    foreign key (auth_user_id) references auth.users(id) on delete set null;
            exception when insufficient_privilege then
                raise notice 'staff.auth_user_id is not tied to auth.users (no REFERENCES right)';
            end;
        end if;
    end if;

    -- Wrappers, so that callers need no right on the auth schema; they only
    -- ever tell the caller about themselves.
    create or replace function backroom.auth_uid() returns uuid
    language sql stable security definer set search_path = pg_catalog as $b$
        select auth.uid()
    $b$;

    create or replace function backroom.auth_staff_id() returns int
    language sql stable security definer set search_path = pg_catalog, backroom as $b$
        select s.id from backroom.staff s where s.auth_user_id = auth.uid() and s.active
    $b$;

    -- A request with a Supabase JWT is that user and nobody else: the setting
    -- is not consulted then. Without a JWT (the console's own connection) it
    -- is the setting, exactly as before.
    create or replace function backroom.current_staff_id() returns int
    language sql stable as $b$
        select case when backroom.auth_uid() is null
                    then nullif(current_setting('backroom.staff_id', true), '')::int
                    else backroom.auth_staff_id() end
    $b$;

    -- The console's lookup after a Supabase sign-in (its own connection).
    create or replace function backroom.staff_for_auth_user(p_user uuid)
    returns table (id int, email text, display_name text, role text)
    language sql stable security definer set search_path = pg_catalog, backroom as $b$
        select s.id, s.email, s.display_name, s.role from backroom.staff s
        where s.auth_user_id = p_user and s.active
    $b$;
    revoke all on function backroom.staff_for_auth_user(uuid) from public;
    grant execute on function backroom.staff_for_auth_user(uuid) to backroom_console;

    -- The same lookup through the API, for the signed-in user only.
    create or replace function backroom.my_staff()
    returns table (id int, email text, display_name text, role text)
    language sql stable security definer set search_path = pg_catalog, backroom as $b$
        select * from backroom.staff_for_auth_user(auth.uid())
    $b$;
    revoke all on function backroom.my_staff() from public;
    done := done || 'auth.uid() mapped to backroom.staff.auth_user_id'::text;

    -- The API role gets the console role's rights ---------------------------------
    -- Supabase's `authenticated` role is NOINHERIT, so granting it membership of
    -- backroom_console would carry neither rights nor policies: they are copied.
    if has_api_role then
        grant usage on schema backroom to authenticated;
        for tr in
            select c.relname, a.privilege_type
            from pg_class c, aclexplode(c.relacl) a
            where c.relnamespace = 'backroom'::regnamespace and c.relkind in ('r', 'p', 'v')
              and a.grantee = 'backroom_console'::regrole
        loop
            execute format('grant %s on backroom.%I to authenticated', tr.privilege_type, tr.relname);
        end loop;
        for tr in
            select c.relname, att.attname, a.privilege_type
            from pg_class c
            join pg_attribute att on att.attrelid = c.oid and att.attnum > 0 and not att.attisdropped,
                 aclexplode(att.attacl) a
            where c.relnamespace = 'backroom'::regnamespace
              and a.grantee = 'backroom_console'::regrole
        loop
            execute format('grant %s (%I) on backroom.%I to authenticated',
                           tr.privilege_type, tr.attname, tr.relname);
        end loop;

        -- Write policies already check the staff member's role: they apply as
        -- they are. The console's read-everything policies get a sibling that
        -- lets active staff read, and nobody else.
        for tr in
            select pol.polname, c.relname, pol.polcmd, pol.polroles,
                   pg_get_expr(pol.polqual, pol.polrelid) as qual
            from pg_policy pol join pg_class c on c.oid = pol.polrelid
            where c.relnamespace = 'backroom'::regnamespace
              and 'backroom_console'::regrole = any (pol.polroles)
        loop
            if tr.polcmd = 'r' and tr.qual = 'true' then
                if not exists (select from pg_policy
                               where polrelid = format('backroom.%I', tr.relname)::regclass
                                 and polname = 'api_staff_read') then
                    execute format('create policy api_staff_read on backroom.%I for select '
                                   'to authenticated using (backroom.current_staff_role() is not null)',
                                   tr.relname);
                end if;
            elsif not ('authenticated'::regrole = any (tr.polroles)) then
                select string_agg(quote_ident(r.rolname), ', ') into roles
                from pg_roles r where r.oid = any (tr.polroles);
                execute format('alter policy %I on backroom.%I to %s, authenticated',
                               tr.polname, tr.relname, roles);
            end if;
        end loop;

        grant execute on function backroom.current_staff_role(), backroom.stepped_up_recently(),
            backroom.my_staff() to authenticated;

        -- Door staff and step-up checks, for API users as for the console.
        create or replace function backroom.door_changes_only() returns trigger
        language plpgsql as $b$
        begin
            if current_user in ('backroom_console', 'authenticated')
               and backroom.current_staff_role() = 'door'
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

        create or replace function backroom.require_step_up() returns trigger
        language plpgsql as $b$
        begin
            if current_user in ('backroom_console', 'authenticated') and new.status = 'cancelled'
               and old.status <> 'cancelled' and old.deposit > 0
               and not backroom.stepped_up_recently() then
                raise exception 'cancelling booking % with a deposit needs a fresh code', old.ref
                    using errcode = 'BR010';
            end if;
            return new;
        end
        $b$;
        done := done || 'authenticated role: rights and policies of backroom_console'::text;
    end if;

    -- Broadcast from the database --------------------------------------------------
    if to_regprocedure('realtime.send(jsonb, text, text, boolean)') is not null then
        -- The same payload as backroom.notify_change(), from backroom.change_payload() (0005).
        -- A failed send raises only a warning (realtime.send catches it), so a
        -- Realtime problem never refuses a booking.
        create or replace function backroom.broadcast_change() returns trigger
        language plpgsql security definer set search_path = pg_catalog, backroom as $b$
        begin
            perform realtime.send(
                backroom.change_payload(tg_table_name, tg_op, to_jsonb(coalesce(new, old))),
                'change', 'backroom:changes', true);
            return null;
        end
        $b$;

        -- One broadcast trigger beside each notify trigger, on the same events.
        for tr in
            select tg.tgname, pg_get_triggerdef(tg.oid) as def
            from pg_trigger tg join pg_class c on c.oid = tg.tgrelid
            where c.relnamespace = 'backroom'::regnamespace and not tg.tgisinternal
              and tg.tgfoid = 'backroom.notify_change()'::regprocedure
        loop
            execute regexp_replace(
                replace(tr.def, 'CREATE TRIGGER ' || quote_ident(tr.tgname) || ' ',
                        'CREATE OR REPLACE TRIGGER '
                        || quote_ident(regexp_replace(tr.tgname, '_notify$', '') || '_broadcast') || ' '),
                '(backroom\.)?notify_change\(\)', 'backroom.broadcast_change()');
        end loop;
        done := done || 'changes broadcast on the private Realtime topic backroom:changes'::text;
    end if;

    -- Who may join the private topics ------------------------------------------------
    if has_api_role and to_regclass('realtime.messages') is not null
       and to_regprocedure('realtime.topic()') is not null then
        begin
            if not exists (select from pg_policy where polrelid = 'realtime.messages'::regclass
                           and polname = 'backroom staff receive') then
                create policy "backroom staff receive" on realtime.messages
                    for select to authenticated
                    using (realtime.topic() in ('backroom:changes', 'backroom:presence')
                           and backroom.current_staff_role() is not null);
            end if;
            if not exists (select from pg_policy where polrelid = 'realtime.messages'::regclass
                           and polname = 'backroom staff track presence') then
                create policy "backroom staff track presence" on realtime.messages
                    for insert to authenticated
                    with check (realtime.topic() = 'backroom:presence' and extension = 'presence'
                                and backroom.current_staff_role() is not null);
            end if;
            done := done || 'Realtime authorization for backroom:changes and backroom:presence'::text;
        exception when insufficient_privilege then
            raise warning 'not allowed to add policies to realtime.messages: add them by hand '
                          '(docs/supabase.md, "Realtime authorization")';
            done := done || 'Realtime authorization NOT set (no right on realtime.messages)'::text;
        end;
    end if;

    -- The tables apps follow with Postgres Changes ---------------------------------------
    if exists (select from pg_publication where pubname = 'supabase_realtime' and not puballtables) then
        begin
            foreach t in array followed loop
                if not exists (select from pg_publication_tables
                               where pubname = 'supabase_realtime' and schemaname = 'backroom'
                                 and tablename = t) then
                    execute format('alter publication supabase_realtime add table backroom.%I', t);
                end if;
            end loop;
            done := done || format('publication supabase_realtime follows %s backroom tables',
                                   array_length(followed, 1));
        exception when insufficient_privilege then
            raise warning 'not allowed to change the publication supabase_realtime';
            done := done || 'publication supabase_realtime NOT changed (not its owner)'::text;
        end;
    end if;
    return done;
end
$fn$;

revoke all on function backroom_meta.enable_supabase() from public;

select backroom_meta.enable_supabase();

"""What a Supabase project has in its database before our migrations run,
reduced to what the migrations and the policies touch.

Stands in for: Supabase's `auth` schema (`auth.users`, and `auth.uid()`
reading the JWT's `sub` as PostgREST and Realtime set it, in
`request.jwt.claim.sub` or `request.jwt.claims`), the API roles `anon` and
`authenticated` (NOLOGIN NOINHERIT, as Supabase creates them), the `realtime`
schema's `messages` table with `realtime.topic()` and `realtime.send()` (the
shape of Supabase Realtime's own migration: `send` sets `realtime.topic`,
inserts a broadcast row, and turns a failure into a warning), and the
`supabase_realtime` publication. `realtime.send` also NOTIFYs
`standin_realtime`, so a test can relay what the database broadcasts to the
Realtime stand-in, as Supabase Realtime does from the WAL.
"""

SUPABASE_STUB = r"""
do $$
begin
    if not exists (select from pg_roles where rolname = 'anon') then
        create role anon nologin noinherit;
    end if;
    if not exists (select from pg_roles where rolname = 'authenticated') then
        create role authenticated nologin noinherit;
    end if;
end
$$;

create schema auth;
create table auth.users (id uuid primary key, email text unique);
create function auth.uid() returns uuid language sql stable as $f$
    select coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid
$f$;
grant usage on schema auth to anon, authenticated;

create schema realtime;
create table realtime.messages (
    id          uuid primary key default gen_random_uuid(),
    topic       text not null,
    extension   text not null,
    payload     jsonb,
    event       text,
    private     boolean default false,
    inserted_at timestamptz not null default now()
);
alter table realtime.messages enable row level security;
grant usage on schema realtime to anon, authenticated;
grant select, insert on realtime.messages to anon, authenticated;

create function realtime.topic() returns text language sql stable as $f$
    select nullif(current_setting('realtime.topic', true), '')
$f$;

create function realtime.send(payload jsonb, event text, topic text, private boolean default true)
returns void language plpgsql as $f$
begin
    begin
        execute format('set local realtime.topic to %L', topic);
        insert into realtime.messages (payload, event, topic, private, extension)
        values (payload, event, topic, private, 'broadcast');
        perform pg_notify('standin_realtime',
                          json_build_object('topic', topic, 'event', event, 'payload', payload)::text);
    exception when others then
        raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
    end;
end
$f$;

create publication supabase_realtime;
"""

-- The venue, its floors and tables, nights, guests, staff, bookings and holds,
-- with the rules that must hold whatever the client: no double booking,
-- parties within capacity, legal status moves only.

create extension if not exists btree_gist;

create schema if not exists backroom;

-- The console acts as this role. It owns nothing, so Row Level Security applies to it.
do $$
begin
    if not exists (select from pg_roles where rolname = 'backroom_console') then
        create role backroom_console nologin nosuperuser nocreatedb nocreaterole nobypassrls;
    end if;
end
$$;

-- Whoever runs the migrations may act as the console role (SET ROLE), so one
-- DATABASE_URL serves both.
do $$
begin
    if not pg_has_role(current_user, 'backroom_console', 'member') then
        execute format('grant backroom_console to %I', current_user);
    end if;
end
$$;

grant usage on schema backroom to backroom_console;

create table backroom.venue (
    id                   smallint primary key,
    name                 text not null,
    timezone             text not null default 'Europe/London',
    opens_at             time not null default '22:00',
    closes_at            time not null default '03:00',
    max_tables_per_guest int not null default 2 check (max_tables_per_guest >= 1),
    hold_seconds         int not null default 30 check (hold_seconds between 5 and 600),
    pending_minutes      int not null default 15 check (pending_minutes between 1 and 1440)
);

create table backroom.floor (
    id        smallint primary key,
    venue_id  smallint not null references backroom.venue(id),
    code      text not null,
    name      text not null,
    position  smallint not null,
    unique (venue_id, code)
);

create table backroom.venue_table (
    id         smallint primary key,
    venue_id   smallint not null references backroom.venue(id),
    floor_id   smallint not null references backroom.floor(id),
    number     smallint not null,
    name       text not null,
    min_party  smallint not null check (min_party >= 1),
    max_party  smallint not null,
    vip        boolean not null default false,
    min_spend  numeric(10, 2) not null default 0 check (min_spend >= 0),
    grid_row   smallint not null default 0,
    grid_col   smallint not null default 0,
    neighbours smallint[] not null default '{}',
    unique (venue_id, number),
    check (max_party >= min_party)
);

create table backroom.night (
    id        int generated always as identity primary key,
    venue_id  smallint not null references backroom.venue(id),
    date      date not null,
    starts_at timestamptz not null,
    ends_at   timestamptz not null,
    status    text not null default 'open' check (status in ('open', 'closed')),
    unique (venue_id, date),
    check (ends_at > starts_at)
);

create table backroom.staff (
    id           int generated always as identity primary key,
    email        text not null unique check (email = lower(email) and email like '%_@_%'),
    display_name text not null,
    role         text not null check (role in ('door', 'manager', 'admin', 'support')),
    active       boolean not null default true,
    created_at   timestamptz not null default now()
);

create table backroom.guest (
    id         int generated always as identity primary key,
    name       text not null check (length(btrim(name)) > 0),
    phone      text,
    email      text,
    notes      text not null default '',
    vip        boolean not null default false,
    created_at timestamptz not null default now()
);
create index guest_name_idx on backroom.guest (lower(name));
create index guest_phone_idx on backroom.guest (phone);

create table backroom.booking_status (
    status   text primary key,
    active   boolean not null,
    terminal boolean not null
);
insert into backroom.booking_status (status, active, terminal) values
    ('pending',   true,  false),
    ('confirmed', true,  false),
    ('arrived',   true,  false),
    ('completed', false, true),
    ('cancelled', false, true),
    ('no_show',   false, true),
    ('expired',   false, true);

create table backroom.booking_transition (
    from_status text not null references backroom.booking_status(status),
    to_status   text not null references backroom.booking_status(status),
    primary key (from_status, to_status)
);
insert into backroom.booking_transition (from_status, to_status) values
    ('pending',   'confirmed'),
    ('pending',   'arrived'),
    ('pending',   'cancelled'),
    ('pending',   'expired'),
    ('confirmed', 'arrived'),
    ('confirmed', 'cancelled'),
    ('confirmed', 'no_show'),
    ('arrived',   'completed');

create table backroom.booking (
    id            int generated always as identity primary key,
    ref           text not null unique,
    night_id      int not null references backroom.night(id),
    guest_id      int not null references backroom.guest(id),
    party_size    smallint not null check (party_size between 1 and 200),
    arrived_count smallint not null default 0 check (arrived_count >= 0),
    status        text not null default 'pending' references backroom.booking_status(status),
    starts_at     timestamptz not null,
    ends_at       timestamptz not null,
    deposit       numeric(10, 2) not null default 0 check (deposit >= 0),
    deposit_paid  boolean not null default false,
    min_spend     numeric(10, 2) not null default 0 check (min_spend >= 0),
    notes         text not null default '',
    cancel_reason text,
    expires_at    timestamptz,
    version       int not null default 1,
    created_by    int references backroom.staff(id),
    updated_by    int references backroom.staff(id),
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    check (ends_at > starts_at),
    check (arrived_count <= party_size),
    check (status <> 'cancelled' or length(btrim(coalesce(cancel_reason, ''))) > 0)
);
create index booking_night_idx on backroom.booking (night_id, status);
create index booking_guest_idx on backroom.booking (guest_id, night_id);

-- The tables a booking covers: one row per table, so a large party can take
-- neighbouring tables and the no-overlap rule still holds table by table.
-- `during` and `active` mirror the booking (kept in step by triggers).
create table backroom.booking_table (
    booking_id int not null references backroom.booking(id) on delete cascade,
    table_id   smallint not null references backroom.venue_table(id),
    during     tstzrange not null,
    active     boolean not null,
    primary key (booking_id, table_id),
    constraint booking_table_no_overlap
        exclude using gist (table_id with =, during with &&) where (active)
);

create table backroom.hold (
    id         int generated always as identity primary key,
    table_id   smallint not null references backroom.venue_table(id),
    night_id   int not null references backroom.night(id),
    during     tstzrange not null,
    staff_id   int references backroom.staff(id),
    holder     text not null,
    expires_at timestamptz not null,
    created_at timestamptz not null default now(),
    constraint hold_no_overlap exclude using gist (table_id with =, during with &&)
);

create table backroom.audit_log (
    id         bigint generated always as identity primary key,
    at         timestamptz not null default clock_timestamp(),
    staff_id   int,
    db_user    text not null default session_user,
    operation  text not null,
    entity     text not null,
    entity_id  int,
    op_id      uuid,
    before     jsonb,
    after      jsonb
);
create index audit_entity_idx on backroom.audit_log (entity, entity_id, at);
create index audit_at_idx on backroom.audit_log (at);

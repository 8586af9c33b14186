-- Idempotent operations and the audit of refusals.
--
-- Every console operation carries an id made on the client. The first
-- transaction to record it does the work and stores its result; a retry with
-- the same id finds the record and returns that result, changing nothing.

create table backroom.operation (
    op_id      uuid primary key,
    kind       text not null,
    staff_id   int references backroom.staff(id),
    result     jsonb,
    created_at timestamptz not null default now()
);
create index operation_created_idx on backroom.operation (created_at);

alter table backroom.operation enable row level security;
grant select, insert, update on backroom.operation to backroom_console;
create policy console_read on backroom.operation for select to backroom_console using (true);
create policy console_insert on backroom.operation for insert to backroom_console with check (true);
create policy console_update on backroom.operation for update to backroom_console using (true);

-- A refused operation leaves nothing behind but this row, written in its own
-- transaction after the refusal rolled back.
create function backroom.log_refusal(operation text, entity text, entity_id int, op_id uuid, reason jsonb)
returns void
language sql security definer set search_path = pg_catalog, backroom as $$
    insert into backroom.audit_log (staff_id, operation, entity, entity_id, op_id, before, after)
    values (backroom.current_staff_id(), 'refused:' || operation, entity, entity_id, op_id, null, reason)
$$;
revoke all on function backroom.log_refusal(text, text, int, uuid, jsonb) from public;
grant execute on function backroom.log_refusal(text, text, int, uuid, jsonb) to backroom_console;

-- Renewing a hold only moves its expiry; releasing deletes it.
alter table backroom.hold add column renewed_at timestamptz;

-- The waitlist of a night: parties waiting for a table, in order.
create table backroom.waitlist_entry (
    id          int generated always as identity primary key,
    night_id    int not null references backroom.night(id),
    guest_id    int not null references backroom.guest(id),
    party_size  smallint not null check (party_size between 1 and 200),
    notes       text not null default '',
    status      text not null default 'waiting'
                check (status in ('waiting', 'offered', 'booked', 'left')),
    offered_table smallint references backroom.venue_table(id),
    booking_id  int references backroom.booking(id),
    created_by  int references backroom.staff(id),
    created_at  timestamptz not null default clock_timestamp()
);
create index waitlist_night_idx on backroom.waitlist_entry (night_id, status, created_at);

alter table backroom.waitlist_entry enable row level security;
grant select, insert, update on backroom.waitlist_entry to backroom_console;
create policy console_read on backroom.waitlist_entry for select to backroom_console using (true);
create policy console_insert on backroom.waitlist_entry for insert to backroom_console with check (true);
create policy console_update on backroom.waitlist_entry for update to backroom_console using (true);

create trigger waitlist_audit after insert or update or delete on backroom.waitlist_entry
    for each row execute function backroom.audit();
create trigger waitlist_notify after insert or update or delete on backroom.waitlist_entry
    for each row execute function backroom.notify_change();

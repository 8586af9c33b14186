-- A guest's name, phone or email corrected while a booking is amended is a
-- change like any other: it leaves an audit row, before and after.
create trigger guest_audit after update on backroom.guest
    for each row execute function backroom.audit();

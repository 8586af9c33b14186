"""The database itself: connections, migrations and their SQL, provisioning, seed data, first-run set-up."""

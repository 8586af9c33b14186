"""A venue on a Supabase project: its Auth, its Realtime, its configuration and the schema deployed to it."""

"""Everything that talks to Postgres, the clock, keyring or Supabase. No Textual here."""

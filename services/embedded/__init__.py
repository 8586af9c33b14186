"""The private PostgreSQL server a console runs when no DATABASE_URL is given."""

"""Who staff are and what they may do: accounts, sign-in, secrets, the console's login, permissions."""

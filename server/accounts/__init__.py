"""Local accounts: sign-in and sessions, users and their roles, passwords."""

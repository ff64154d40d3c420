"""The console's own rules, without I/O: staff accounts, roles, sign-in lock-out."""

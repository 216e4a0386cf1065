"""The audit log: who changed which configuration, when, from what to what; sign-ins."""

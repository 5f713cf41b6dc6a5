"""Regional issuers: the 34 provincial-level regions plus the national platform."""

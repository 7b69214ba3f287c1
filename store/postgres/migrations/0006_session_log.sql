-- The session log (sessionlog.go): from this migration on, every
-- session's start and end is also an event on the system log's chain
-- (events of session '_system'), written in the session's own
-- transaction. The sessions already here are put on it, with their heads,
-- by Go code in this migration's transaction (adoptSessions), once.
COMMENT ON TABLE events IS 'One hash chain per session; the chain of session _system also holds every session''s start and end (the session log), which warden verify checks the sessions against.';

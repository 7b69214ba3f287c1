-- What every replica must act on, whichever wrote it: a session's state
-- (a kill), an approval's decision, an agent's suspension. Triggers write
-- a row and NOTIFY warden_changes in the writing transaction, so the
-- notification goes out exactly when the change commits; replicas LISTEN,
-- and poll this table as well, so a missed notification only delays.
CREATE TABLE changes (
	id      bigserial PRIMARY KEY,
	kind    text NOT NULL,
	subject text NOT NULL,
	at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX changes_at ON changes (at);

CREATE FUNCTION warden_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	-- TG_ARGV: the kind, and the column that names the subject.
	INSERT INTO changes (kind, subject) VALUES (TG_ARGV[0], to_jsonb(NEW) ->> TG_ARGV[1]);
	PERFORM pg_notify('warden_changes', TG_ARGV[0]);
	RETURN NULL;
END $$;

CREATE TRIGGER sessions_changed AFTER UPDATE OF state ON sessions
	FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION warden_changed('session', 'id');
CREATE TRIGGER approvals_changed AFTER UPDATE OF state ON approvals
	FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION warden_changed('approval', 'id');
CREATE TRIGGER agents_changed AFTER INSERT OR UPDATE ON agents
	FOR EACH ROW EXECUTE FUNCTION warden_changed('agent', 'name');

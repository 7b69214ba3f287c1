-- warden's history, as store.Store keeps it. Records are stored as the
-- JSON the bbolt store writes (body), byte for byte, so that an event's
-- hash is over exactly what is stored; the other columns index it.
-- Times that order rows are Unix nanoseconds: timestamptz keeps only
-- microseconds, and the order must match the bbolt store's.
CREATE TABLE sessions (
	id         text PRIMARY KEY,
	agent      text NOT NULL,
	state      text NOT NULL,
	started_ns bigint NOT NULL,
	body       bytea NOT NULL
);
CREATE INDEX sessions_started ON sessions (started_ns DESC, id DESC);

-- The primary key is the last line of defence against a forked chain:
-- Append locks the session row, so two writers never pick the same seq.
CREATE TABLE events (
	session text NOT NULL,
	seq     bigint NOT NULL CHECK (seq > 0),
	body    bytea NOT NULL,
	PRIMARY KEY (session, seq)
);

CREATE TABLE approvals (
	id         text PRIMARY KEY,
	session    text NOT NULL,
	agent      text NOT NULL,
	state      text NOT NULL,
	created_ns bigint NOT NULL,
	expires_ns bigint NOT NULL,
	body       bytea NOT NULL
);
CREATE INDEX approvals_created ON approvals (created_ns DESC, id DESC);
CREATE INDEX approvals_pending ON approvals (expires_ns) WHERE state = 'pending';

CREATE TABLE pins (
	key   text PRIMARY KEY,
	value text NOT NULL
);

CREATE TABLE agents (
	name text PRIMARY KEY,
	body bytea NOT NULL
);

-- Each agent's last saved baseline (store.Baselines).
CREATE TABLE baselines (
	agent text PRIMARY KEY,
	data  bytea NOT NULL
);

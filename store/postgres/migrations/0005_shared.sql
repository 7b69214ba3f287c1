-- Limits and budgets of an agent that hold across replicas: one row per
-- (key, fixed window), counted up by an atomic upsert that stops at the
-- limit, so that replicas counting at once never overshoot it. Windows
-- are aligned on the database's clock (milliseconds since the epoch), so
-- replicas whose clocks differ still share them.
CREATE TABLE counters (
	key      bytea NOT NULL, -- any bytes: it holds agent names and tool patterns
	start_ms bigint NOT NULL,
	end_ms   bigint NOT NULL,
	n        integer NOT NULL CHECK (n >= 0),
	PRIMARY KEY (key, start_ms)
);
CREATE INDEX counters_end ON counters (end_ms);

-- The policy (workflows, rules, limits: what a reload applies) each
-- replica runs, by digest, with what is wrong if it is not the one
-- announced; and the one last announced, by a replica that loaded its
-- configuration (a start or a reload). An announcement also writes a
-- 'policy' row to changes, with NOTIFY, in its transaction: every replica
-- then reloads its own configuration.
CREATE TABLE replica_policies (
	replica text PRIMARY KEY,
	digest  text NOT NULL,
	loaded  timestamptz NOT NULL DEFAULT clock_timestamp(),
	problem text NOT NULL DEFAULT ''
);
CREATE TABLE policy_announced (
	one     boolean PRIMARY KEY DEFAULT true CHECK (one),
	digest  text NOT NULL,
	replica text NOT NULL,
	at      timestamptz NOT NULL DEFAULT clock_timestamp()
);

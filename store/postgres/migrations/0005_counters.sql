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

-- One writer per session across replicas: the replica that serves a
-- session holds its lease; taking it over bumps the epoch, and an append
-- is refused unless its replica still holds the epoch it took (checked in
-- the append's own transaction: fencing at the store).
CREATE TABLE leases (
	session text PRIMARY KEY,
	owner   text NOT NULL,
	epoch   bigint NOT NULL CHECK (epoch > 0),
	renewed timestamptz NOT NULL DEFAULT now()
);

-- Where each replica can be reached, and whether it is alive: a replica
-- heartbeats its row every second while it reaches the database; a lease
-- whose owner's heartbeat is older than the expiry is dead, and any
-- replica may take the session over. A request that lands on another
-- replica than the live owner is forwarded to the owner's url.
CREATE TABLE replicas (
	id        text PRIMARY KEY,
	url       text NOT NULL,
	heartbeat timestamptz NOT NULL DEFAULT now()
);

-- The cluster's secret: replicas sign the requests they forward to one
-- another with it, so that an agent cannot pass its own request off as
-- forwarded. One row, written once by the first replica that starts.
CREATE TABLE cluster_secret (
	id     int PRIMARY KEY CHECK (id = 1),
	secret bytea NOT NULL CHECK (length(secret) >= 32)
);

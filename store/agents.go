package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketAgents holds what warden records about agents beyond the
// configuration: whether an admin suspended one (agents -> name -> AgentRecord).
// It is made by the first SetAgentSuspended; a missing bucket reads as empty.
var bucketAgents = []byte("agents")

// AgentRecord is an agent's recorded standing.
type AgentRecord struct {
	Name      string    `json:"name"`
	Suspended bool      `json:"suspended"`
	Reason    string    `json:"reason,omitempty"`
	By        string    `json:"by,omitempty"`
	Changed   time.Time `json:"changed"`
}

// SetAgentSuspended suspends (or restores) an agent's token, durably, so
// that a restart keeps the suspension.
func (d *DB) SetAgentSuspended(ctx context.Context, rec AgentRecord) error {
	if rec.Name == "" {
		return fmt.Errorf("store: agent record: empty name")
	}
	if rec.Changed.IsZero() {
		rec.Changed = time.Now()
	}
	rec.Changed = rec.Changed.UTC()
	val, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("store: agent %q: %w", rec.Name, err)
	}
	return d.w.do(ctx, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketAgents)
		if err != nil {
			return abort(fmt.Errorf("bucket %s: %w", bucketAgents, err))
		}
		return abort(b.Put([]byte(rec.Name), val))
	})
}

// AgentRecords returns every recorded agent, by name.
func (d *DB) AgentRecords(ctx context.Context) (map[string]AgentRecord, error) {
	out := map[string]AgentRecord{}
	err := d.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAgents)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var rec AgentRecord
			if err := decodeStrict(v, &rec); err != nil {
				return fmt.Errorf("agent %q: %w", k, err)
			}
			out[string(k)] = rec
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: agents: %w", err)
	}
	return out, nil
}

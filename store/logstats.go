package store

import "time"

// LogStats counts the write-ahead log's work since Open: what group commit
// achieves is Appends/Syncs events per fdatasync, and what a caller pays
// for durability is Wait/Appends per append.
type LogStats struct {
	Appends  uint64        // appends made durable in the log
	Syncs    uint64        // fdatasyncs of the log
	SyncTime time.Duration // summed over the log's fdatasyncs
	Wait     time.Duration // summed over appends: from the call to durable
}

// LogStats reports the log's counters; all zero for a store without a log.
func (d *DB) LogStats() LogStats {
	if d.j == nil {
		return LogStats{}
	}
	return LogStats{
		Appends:  d.j.appends.Load(),
		Syncs:    d.j.syncs.Load(),
		SyncTime: time.Duration(d.j.syncTime.Load()),
		Wait:     time.Duration(d.j.waited.Load()),
	}
}

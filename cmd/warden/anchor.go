package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/charmbracelet/log"

	"github.com/warden-dev/warden/config"
	"github.com/warden-dev/warden/notify"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/store/postgres"
)

// anchorer writes signed checkpoints of the history's chain heads to the
// configured anchor file and webhook (see store/anchor.go): at start,
// every Anchor.Every, and at close. Each lists the heads that moved since
// the one before, and links to it. On PostgreSQL only the replica that
// holds the anchor's lock writes them.
type anchorer struct {
	db   headSource
	lock *postgres.AnchorLock // nil on bbolt: this warden is the only writer
	cfg  *config.Anchor
	send *notify.Sender // nil without a webhook
	log  *log.Logger

	last map[string]store.Head // heads as of the last checkpoint
	prev string                // its signature

	cancel context.CancelFunc
	done   chan struct{}
}

// headSource is a history whose chain heads can be checkpointed: the
// bbolt file, or PostgreSQL.
type headSource interface {
	Heads(ctx context.Context) ([]store.Head, error)
}

// startAnchor checks the anchor file (a file that does not verify under
// the key stops warden: appending to it would prove nothing), then starts
// the loop. lock is PostgreSQL's anchor lock, nil on bbolt.
func startAnchor(db headSource, lock *postgres.AnchorLock, cfg *config.Anchor, logger *log.Logger) (*anchorer, error) {
	a := &anchorer{db: db, lock: lock, cfg: cfg, log: logger, last: map[string]store.Head{}, done: make(chan struct{})}
	if cfg.File != "" {
		prev, err := continueAnchor(cfg.File, cfg.Secret, logger)
		if err != nil {
			return nil, err
		}
		a.prev = prev
	}
	if cfg.Webhook != "" {
		snd, err := notify.New(notify.Options{URLs: []string{cfg.Webhook}, Secret: cfg.Secret, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("anchor webhook: %w", err)
		}
		a.send = snd
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go a.loop(ctx)
	return a, nil
}

// continueAnchor reads an existing anchor file and returns the signature
// the next checkpoint links to. A torn last line (a crash mid-write) is
// cut off.
func continueAnchor(path string, key []byte, logger *log.Logger) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("anchor file: %w", err)
	}
	defer f.Close()
	cps, end, err := store.ReadCheckpoints(f, key)
	if err != nil {
		return "", fmt.Errorf("anchor file %s: %w", path, err)
	}
	if fi, err := f.Stat(); err == nil && fi.Size() > end {
		if err := os.Truncate(path, end); err != nil {
			return "", fmt.Errorf("anchor file %s: cut its torn last line: %w", path, err)
		}
		logger.Warn("anchor file ended in a torn line (a crash while writing it); cut it off", "file", path, "bytes", fi.Size()-end)
	}
	if len(cps) == 0 {
		return "", nil
	}
	return cps[len(cps)-1].Sig, nil
}

func (a *anchorer) loop(ctx context.Context) {
	defer close(a.done)
	tick := time.NewTicker(a.cfg.Every)
	defer tick.Stop()
	for {
		if err := a.checkpoint(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("cannot write a checkpoint of the history's heads", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// checkpoint writes one checkpoint of the heads that moved, if any did,
// and this warden's turn it is.
func (a *anchorer) checkpoint(ctx context.Context) error {
	if mine, err := a.myTurn(ctx); err != nil || !mine {
		return err
	}
	heads, err := a.db.Heads(ctx)
	if err != nil {
		return err
	}
	var moved []store.Head
	for _, h := range heads {
		if a.last[h.Session] != h {
			moved = append(moved, h)
		}
	}
	if len(moved) == 0 {
		return nil
	}
	cp := store.Checkpoint{Time: time.Now().UTC(), Heads: moved, Prev: a.prev}
	if err := cp.Sign(a.cfg.Secret); err != nil {
		return err
	}
	if a.cfg.File != "" {
		if err := store.AppendCheckpoint(a.cfg.File, cp); err != nil {
			return err
		}
	}
	if a.send != nil {
		a.send.Go(ctx, notify.Message{Type: notify.TypeAnchorCheckpoint, Checkpoint: &cp,
			Text: fmt.Sprintf("warden checkpoint: %d chain heads", len(moved))})
	}
	a.prev = cp.Sig
	for _, h := range moved {
		a.last[h.Session] = h
	}
	return nil
}

// myTurn says whether this warden writes checkpoints now: always on
// bbolt; on PostgreSQL while it holds the anchor's lock. Having just
// taken it, it continues from the anchor file's last checkpoint (another
// replica may have written since) and lists every head.
func (a *anchorer) myTurn(ctx context.Context) (bool, error) {
	if a.lock == nil {
		return true, nil
	}
	held, taken, err := a.lock.Hold(ctx)
	if err != nil || !held || !taken {
		return held, err
	}
	// As at a start: without a file, a new run of checkpoints links to none.
	a.last, a.prev = map[string]store.Head{}, ""
	if a.cfg.File != "" {
		prev, err := continueAnchor(a.cfg.File, a.cfg.Secret, a.log)
		if err != nil {
			return false, err
		}
		a.prev = prev
	}
	return true, nil
}

// close stops the loop, writes a last checkpoint (the heads as warden
// leaves them), and waits for the webhook's deliveries up to ctx.
func (a *anchorer) close(ctx context.Context) {
	if a == nil {
		return
	}
	a.cancel()
	<-a.done
	if err := a.checkpoint(ctx); err != nil {
		a.log.Error("cannot write the last checkpoint of the history's heads", "err", err)
	}
	if a.send != nil {
		_ = a.send.Close(ctx)
	}
	if a.lock != nil {
		_ = a.lock.Close(ctx)
	}
}

// startAnchor starts the checkpoints of the app's history: the bbolt
// file's, or PostgreSQL's under its anchor lock.
func (a *app) startAnchor() (*anchorer, error) {
	if pg, ok := a.st.(*postgres.DB); ok {
		return startAnchor(pg, pg.AnchorLock(), a.cfg.Anchor, a.log)
	}
	return startAnchor(a.db, nil, a.cfg.Anchor, a.log)
}

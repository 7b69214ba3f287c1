package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/warden-dev/warden/store"
)

// directory is a shared history that knows where each replica is
// reached and which are alive (store/postgres opened WithReplica). With
// it, one session's requests are served by one replica, whichever replica
// the load balancer sends them to: the others forward them there, so the
// session's lease does not move while its holder lives, and answers to
// server-to-client requests (elicitation, sampling, roots) reach the
// replica that asked.
type directory interface {
	// Heartbeat registers this replica at url, or renews it.
	Heartbeat(ctx context.Context, url string) error
	// Deregister removes this replica, so that the others take its
	// sessions over at once.
	Deregister(ctx context.Context) error
	// ClusterSecret is the replicas' shared secret.
	ClusterSecret(ctx context.Context) ([]byte, error)
	// Route says whether the session is served here, by the live replica
	// at url, or by none alive (false, "": it may be taken over from
	// epoch, 0 when it has no lease).
	Route(ctx context.Context, session string) (here bool, url string, epoch int64, err error)
	// TakeOver takes the lease if it is still at epoch, and reports
	// whether it did.
	TakeOver(ctx context.Context, session string, epoch int64) (bool, error)
}

// AdvertiseAt sets Options.Advertise, for a replica that learns its
// address once it listens; call it before Start.
func (s *Supervisor) AdvertiseAt(url string) { s.opts.Advertise = url }

// heartbeatEvery is how often a replica renews its registration; the
// store deems it dead after several missed ones (store/postgres's
// LeaseExpiry, 5 s), and its sessions are then taken over.
const heartbeatEvery = time.Second

// startRouting registers this replica at its advertised URL and keeps it
// registered while it reaches the database, until the Supervisor closes;
// it does nothing unless the history is shared and Options.Advertise is
// set. A replica that cannot reach the database stops heartbeating, so
// the others take its sessions over after the expiry; meanwhile it
// refuses what it cannot record.
func (s *Supervisor) startRouting(ctx context.Context) error {
	dir, ok := s.store.(directory)
	if !ok || !s.replicated() || s.opts.Advertise == "" {
		return nil
	}
	secret, err := dir.ClusterSecret(ctx)
	if err != nil {
		return fmt.Errorf("replicas: %w", err)
	}
	if err := dir.Heartbeat(ctx, s.opts.Advertise); err != nil {
		return fmt.Errorf("replicas: register this replica at %s: %w", s.opts.Advertise, err)
	}
	s.fwd.Store(newForwarder(s.opts.Advertise, secret, s.log))
	s.bg.spawn(func(ctx context.Context) {
		tick := time.NewTicker(heartbeatEvery)
		defer tick.Stop()
		failing := false
		for {
			select {
			case <-ctx.Done():
				dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				if err := dir.Deregister(dctx); err != nil {
					s.log.Warn("cannot deregister this replica; the others take its sessions over when its heartbeat expires", "err", err)
				}
				return
			case <-tick.C:
			}
			hctx, cancel := context.WithTimeout(ctx, heartbeatEvery)
			err := dir.Heartbeat(hctx, s.opts.Advertise)
			cancel()
			switch {
			case err != nil && !failing:
				s.log.Error("cannot renew this replica's heartbeat: the other replicas will take its sessions over", "err", err)
			case err == nil && failing:
				s.log.Info("this replica's heartbeat is renewed again")
			}
			failing = err != nil
		}
	})
	return nil
}

// routed is how front finds the session of a request that names one:
// the copy live here, or nil (to be resumed from the store, taking the
// session over), unless another live replica serves it, when the request
// is forwarded there and answered (done). Only a request of the
// session's agent takes the session over. forwardedIn says that another
// replica forwarded it here: it is never forwarded again. body is a POST's
// body, read already, for a request that must be served here after all.
func (s *Supervisor) routed(w http.ResponseWriter, r *http.Request, sid, agent, remote string, forwardedIn bool, body []byte) (sess *session, done bool, err error) {
	sess = s.sessions.get(sid)
	f := s.fwd.Load()
	dir, ok := s.store.(directory)
	if f == nil || !ok {
		if sess != nil {
			sess, err = s.heldHere(r.Context(), sess)
		}
		return sess, false, err
	}
	// Twice at most: when another replica takes a dead owner's session
	// over first, the request goes to that one.
	for range 2 {
		here, target, epoch, err := s.route(r.Context(), dir, sid)
		if err != nil {
			return nil, false, fmt.Errorf("find the warden replica that serves session %s: %w", sid, err)
		}
		if here {
			return sess, false, nil
		}
		if sess != nil {
			s.takenOver(sess) // this copy is stale, whoever serves the session now
			sess = nil
		}
		if target != "" && forwardedIn {
			// Forwarded here, but another replica serves the session and
			// lives: taking it from there would cut its calls in flight
			// off (a signed request replayed to the wrong replica, or one
			// that crossed a takeover). It is not forwarded twice either.
			return nil, false, fmt.Errorf("session %s is served by another warden replica: try again", sid)
		}
		if target != "" && target != f.self {
			if f.forward(w, r, target, sid, s.claimOf(r, remote), body) {
				return nil, true, nil
			}
			s.log.Warn("the replica serving a session cannot be reached: taking the session over", "session", sid, "replica", target)
			if body != nil {
				r.Body = io.NopCloser(bytes.NewReader(body))
			}
		}
		if epoch == 0 {
			return nil, false, nil // no lease: resume takes one
		}
		// Only the session's own agent moves it: another agent's request
		// naming it is refused by resume, and must not take it first.
		rec, err := s.store.Session(r.Context(), sid)
		switch {
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return nil, false, fmt.Errorf("read session %s: %w", sid, err)
		case err != nil || rec.Agent != agent:
			return nil, false, nil
		}
		took, err := s.takeOverFrom(r.Context(), dir, sid, epoch)
		if err != nil {
			return nil, false, fmt.Errorf("take session %s over: %w", sid, err)
		}
		if took {
			return nil, false, nil // resume reads the chain under this replica's lease
		}
	}
	return nil, false, fmt.Errorf("session %s changes hands between replicas: try again", sid)
}

// route and takeOverFrom ask dir under the session's routing lock, so
// that a request routed while this replica takes the session over (for
// another request) sees the takeover whole: before it, or after this
// replica holds the lease, never between the commit and the lease held.
func (s *Supervisor) route(ctx context.Context, dir directory, sid string) (bool, string, int64, error) {
	unlock, err := s.routing.lock(ctx, sid)
	if err != nil {
		return false, "", 0, err
	}
	defer unlock()
	return dir.Route(ctx, sid)
}

func (s *Supervisor) takeOverFrom(ctx context.Context, dir directory, sid string, epoch int64) (bool, error) {
	unlock, err := s.routing.lock(ctx, sid)
	if err != nil {
		return false, err
	}
	defer unlock()
	return dir.TakeOver(ctx, sid, epoch)
}

// forwardOnly forwards r, a request of session sid that is not
// authenticated here (a DELETE without a token), to the live replica that
// serves the session, and reports whether it did (and answered). It never
// takes the session over: that is for an agent this replica
// authenticated.
func (s *Supervisor) forwardOnly(w http.ResponseWriter, r *http.Request, sid, remote string) bool {
	f := s.fwd.Load()
	dir, ok := s.store.(directory)
	if f == nil || !ok {
		return false
	}
	_, target, _, err := dir.Route(r.Context(), sid)
	if err != nil || target == "" || target == f.self {
		return false
	}
	return f.forward(w, r, target, sid, s.claimOf(r, remote), nil)
}

// claimOf is what this replica vouches for about the agent of r, a
// request it got from the agent (or its proxy) and forwards: remote, and
// the fingerprint, as its own trusted-proxy rules derive them.
func (s *Supervisor) claimOf(r *http.Request, remote string) forwardClaim {
	return forwardClaim{remote: remote, fingerprint: s.opts.Network.fingerprint(r)}
}

// forwardedFrom checks the forwardHeader of r, if any, and removes it: it
// returns what a replica forwarding r vouches for about the agent (its
// address and fingerprint), and whether it does. A header that does not
// verify is ignored. One that verifies but was served already (a captured
// forward sent again) is an error: the request must be refused, not served
// as the agent's own. The signature covers a POST's body: it is read here
// (up to the limit; front refuses a larger one) and put back for front to
// read.
func (s *Supervisor) forwardedFrom(r *http.Request) (forwardClaim, bool, error) {
	var none forwardClaim
	v := r.Header.Get(forwardHeader)
	if v == "" {
		return none, false, nil
	}
	r.Header.Del(forwardHeader)
	f := s.fwd.Load()
	if f == nil {
		s.log.Warn("a request claims to be forwarded by a replica, but this warden does not route between replicas: header ignored", "peer", r.RemoteAddr)
		return none, false, nil
	}
	var body []byte
	if r.Method == http.MethodPost { // the forwarder signs the body it read: a POST's (front.go)
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, s.opts.MaxBodyBytes+1))
		r.Body = readCloser{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		if err != nil || int64(len(body)) > s.opts.MaxBodyBytes {
			s.log.Warn("a request claims to be forwarded by a replica, but its body cannot be read whole to check the "+forwardHeader+" header: header ignored", "peer", r.RemoteAddr, "err", err)
			return none, false, nil
		}
	}
	now := time.Now()
	claim, sig, err := f.verify(v, r.Method, r.Header.Get("Mcp-Session-Id"), body, now)
	if err != nil {
		s.log.Warn("a request claims to be forwarded by a replica, but its "+forwardHeader+" header does not verify: header ignored", "peer", r.RemoteAddr, "err", err)
		return none, false, nil
	}
	if err := f.seen.first(sig, now); err != nil {
		s.log.Warn("a forwarded request refused", "peer", r.RemoteAddr, "session", r.Header.Get("Mcp-Session-Id"), "err", err)
		return none, false, err
	}
	return claim, true, nil
}

// readCloser reads from a body partly read already, and closes the
// original.
type readCloser struct {
	io.Reader
	io.Closer
}

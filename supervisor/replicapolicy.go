package supervisor

// changePolicy is the kind of change a replica's announcement of the
// policy it loaded is (store/postgres's ChangePolicy); its subject is the
// policy's digest.
const changePolicy = "policy"

// OnPolicyAnnounced makes fn receive the digest of every policy a replica
// announces (this one's included) from the shared change feed, so that
// the configuration's owner can reload it: the Supervisor knows nothing
// of configuration files. fn runs on the feed's goroutine and must not
// block. A warden that is no replica gets none.
func (s *Supervisor) OnPolicyAnnounced(fn func(digest string)) {
	s.announced.Store(&fn)
}

func (s *Supervisor) policyAnnounced(digest string) {
	if fn := s.announced.Load(); fn != nil {
		(*fn)(digest)
	}
}

package supervisor

import "testing"

// TestChangedForWhileViewPublished reads a session's changed tools, as
// each of its calls does, while its view is published again and again,
// as its upstream sessions' list changes do. Run with -race.
func TestChangedForWhileViewPublished(t *testing.T) {
	s, _ := startTestSupervisor(t, nil, nil)
	sess := &session{key: "k", id: "k"}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 500 {
			s.publishView(sess, s.hub.Catalog())
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
			_ = s.changedFor(sess)
		}
	}
}

package supervisor

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
)

// SetAdminToken sets the admin token, as the lowercase hex SHA-256 of it;
// a reload may replace it (Reload), so the admin surface checks tokens
// with IsAdminToken rather than keeping the hash.
func (s *Supervisor) SetAdminToken(tokenSHA256 string) error {
	h, err := adminHash(tokenSHA256)
	if err != nil {
		return err
	}
	s.admin.Store(h)
	return nil
}

// IsAdminToken reports whether token is the admin token in force, in time
// that does not depend on where the hashes differ. An empty token, or no
// admin token set, matches nothing.
func (s *Supervisor) IsAdminToken(token string) bool {
	if token == "" {
		return false
	}
	return s.IsAdminTokenSum(sha256.Sum256([]byte(token)))
}

// IsAdminTokenSum is IsAdminToken for a token known by its SHA-256: what
// the console keeps of the token a browser signed in with, to end the
// login when a reload rotates the token.
func (s *Supervisor) IsAdminTokenSum(sum [sha256.Size]byte) bool {
	want := s.admin.Load()
	if want == nil {
		return false
	}
	return subtle.ConstantTimeCompare(sum[:], want[:]) == 1
}

// adminHash decodes the admin token's hash.
func adminHash(tokenSHA256 string) (*[sha256.Size]byte, error) {
	var h [sha256.Size]byte
	if n, err := hex.Decode(h[:], []byte(tokenSHA256)); err != nil || n != sha256.Size || len(tokenSHA256) != 2*sha256.Size {
		return nil, errors.New("admin token hash is not 64 hex digits")
	}
	return &h, nil
}

package main

import (
	"errors"
	"strings"
	"testing"
)

// TestByPrefix: an id that is found is used as it is; one that is not is
// taken as a prefix, which must be unique; a listing that fails leaves the
// lookup's own error.
func TestByPrefix(t *testing.T) {
	ids := []string{"0a1b2c3d4e5f60718293a4b5c6d7e8f9", "0a1bffffffffffffffffffffffffffff", "77aa000000000000000000000000000f", "older-style-id"}
	errNotFound := errors.New("not found")
	tests := []struct {
		id, want string // want: the id the lookup succeeded with, "" for none
		err      string // a fragment of the error, "" for none
		listed   bool   // whether the ids had to be listed
	}{
		{"0a1b2c", ids[0], "", true},
		{"77", ids[2], "", true},
		{"older", "older-style-id", "", true},
		{"older-style-id", "older-style-id", "", false},
		{ids[1], ids[1], "", false},
		{"0a1b", "", "session id \"0a1b\" is ambiguous: 2 sessions start with it; give more of it:\n  " + ids[0] + "\n  " + ids[1], true},
		{"ff", "", "not found", true},
		{"0a1b2c3d4e5f60718293a4b5c6d7e8f0", "", "not found", false}, // whole: not a prefix
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			listed, got := false, ""
			err := byPrefix("session", tt.id, func() ([]string, error) { listed = true; return ids, nil },
				func(err error) bool { return errors.Is(err, errNotFound) },
				func(id string) error {
					for _, known := range ids {
						if id == known {
							got = id
							return nil
						}
					}
					return errNotFound
				})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("byPrefix(%q): %v; want an error with %q", tt.id, err, tt.err)
				}
			} else if err != nil || got != tt.want {
				t.Fatalf("byPrefix(%q) looked up %q, %v; want %q", tt.id, got, err, tt.want)
			}
			if listed != tt.listed {
				t.Errorf("listed the ids: %v, want %v", listed, tt.listed)
			}
		})
	}
	failed := func() ([]string, error) { return nil, errors.New("store closed") }
	if err := byPrefix("approval", "ab", failed, func(error) bool { return true }, func(string) error { return errNotFound }); err != errNotFound {
		t.Fatalf("with a failed listing: %v, want the lookup's error", err)
	}
	if id, err := filterID("session", "77", func() ([]string, error) { return ids, nil }); err != nil || id != ids[2] {
		t.Fatalf("filterID = %q, %v", id, err)
	}
	if id, err := filterID("session", "ab", failed); err != nil || id != "ab" {
		t.Fatalf("filterID with a failed listing = %q, %v; want the id as given", id, err)
	}
}

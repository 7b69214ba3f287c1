package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/warden-dev/warden/store"
)

// wholeIDLen is the length of the ids warden makes (16 random bytes in hex).
const wholeIDLen = 32

// maxCandidates bounds the ids an ambiguous prefix's error lists.
const maxCandidates = 10

// byPrefix runs lookup with id and, when it finds no such session or
// approval (what), with the whole id that id is a unique prefix of, as git
// does with commits; ids lists the candidates. A prefix several ids share
// is an error naming them. When the ids cannot be listed, or none starts
// with id, lookup's own error stands.
func byPrefix(what, id string, ids func() ([]string, error), notFound func(error) bool, lookup func(id string) error) error {
	err := lookup(id)
	if err == nil || !notFound(err) || id == "" || isWholeID(id) {
		return err
	}
	all, lerr := ids()
	if lerr != nil {
		return err
	}
	whole, merr := matchID(what, id, all)
	if merr != nil {
		return merr
	}
	if whole == id {
		return err
	}
	return lookup(whole)
}

// filterID is id, or the whole id it is a unique prefix of, for a filter
// (which finds nothing rather than failing on an unknown id). When the
// ids cannot be listed, id is used as it is.
func filterID(what, id string, ids func() ([]string, error)) (string, error) {
	if id == "" || isWholeID(id) {
		return id, nil
	}
	all, err := ids()
	if err != nil {
		return id, nil
	}
	return matchID(what, id, all)
}

// matchID is the id of all that equals id, or else the one that starts
// with it, or else id itself; several that start with it are an error
// naming them.
func matchID(what, id string, all []string) (string, error) {
	var found []string
	for _, c := range all {
		if c == id {
			return id, nil
		}
		if strings.HasPrefix(c, id) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return id, nil
	case 1:
		return found[0], nil
	}
	slices.Sort(found)
	n, more := len(found), ""
	if n > maxCandidates {
		more = fmt.Sprintf("\n  ... and %d more", n-maxCandidates)
		found = found[:maxCandidates]
	}
	return "", fmt.Errorf("%s id %q is ambiguous: %d %ss start with it; give more of it:\n  %s%s",
		what, id, n, what, strings.Join(found, "\n  "), more)
}

// apiNotFound reports whether the admin API answered 404.
func apiNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }

// isWholeID reports whether id has the form of the ids warden makes.
func isWholeID(id string) bool {
	if len(id) != wholeIDLen {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// historySessionIDs lists the ids of every session in a history.
func historySessionIDs(ctx context.Context, h history) func() ([]string, error) {
	return func() ([]string, error) {
		list, err := h.Sessions(ctx, store.Filter{})
		return idsOf(list, func(s store.Session) string { return s.ID }), err
	}
}

// apiSessionIDs lists the ids of every session through the admin API.
func apiSessionIDs(ctx context.Context, cl *adminClient) func() ([]string, error) {
	return apiIDs(ctx, cl, "/v1/sessions", func(s store.Session) string { return s.ID })
}

// apiApprovalIDs lists the ids of every approval through the admin API.
func apiApprovalIDs(ctx context.Context, cl *adminClient) func() ([]string, error) {
	return apiIDs(ctx, cl, "/v1/approvals", func(a store.Approval) string { return a.ID })
}

// apiIDs lists the ids of what the admin API lists at path.
func apiIDs[T any](ctx context.Context, cl *adminClient, path string, id func(T) string) func() ([]string, error) {
	return func() ([]string, error) {
		var list []T
		_, err := cl.call(ctx, http.MethodGet, path, nil, nil, &list)
		return idsOf(list, id), err
	}
}

// idsOf is the id of each element of list.
func idsOf[T any](list []T, id func(T) string) []string {
	ids := make([]string, len(list))
	for i, v := range list {
		ids[i] = id(v)
	}
	return ids
}

package tools

import (
	"context"
	"errors"
	"log/slog"
	"os"
)

// closedWrites lowers to debug mcp-go's errors about writing to a pipe
// that warden itself closed. When a stdio upstream's transport closes, a
// request the server sent just before (a ping, roots/list) is still being
// answered, and that answer has nowhere to go: nothing is lost and nothing
// is wrong, so a normal exit must not log an error for it.
type closedWrites struct{ slog.Handler }

func (h closedWrites) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn && writesToClosed(r) {
		r.Level = slog.LevelDebug
		if !h.Handler.Enabled(ctx, r.Level) {
			return nil
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h closedWrites) WithAttrs(as []slog.Attr) slog.Handler {
	return closedWrites{h.Handler.WithAttrs(as)}
}

func (h closedWrites) WithGroup(name string) slog.Handler {
	return closedWrites{h.Handler.WithGroup(name)}
}

// writesToClosed says whether the record carries an error from a write
// to a file already closed.
func writesToClosed(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && errors.Is(err, os.ErrClosed) {
			found = true
		}
		return !found
	})
	return found
}

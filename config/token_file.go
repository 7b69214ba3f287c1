package config

import (
	"fmt"
	"os"
	"runtime"
	"strings"
)

// maxTokenFile bounds a token file; more is not a token.
const maxTokenFile = 4096

// readTokenFile reads a token kept in a file (a mounted secret): its
// content without surrounding white space, which editors and echo add. A
// file that other users may read or write is refused, as ssh refuses such
// a key: the token would be theirs too. The file is read at every load,
// so a reload picks up a rotated token.
func readTokenFile(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	switch {
	case !st.Mode().IsRegular():
		return "", fmt.Errorf("%s is not a regular file", path)
	case runtime.GOOS != "windows" && st.Mode().Perm()&0o006 != 0:
		return "", fmt.Errorf("%s can be read or written by other users (mode %v); chmod o-rw it", path, st.Mode().Perm())
	case st.Size() > maxTokenFile:
		return "", fmt.Errorf("%s holds %d bytes, more than a token (at most %d)", path, st.Size(), maxTokenFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return tok, nil
}

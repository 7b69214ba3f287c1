package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The console's browser tests drive Debian's chromium with chromedp.

// consoleTokens are named admin tokens for the console's tests.
var consoleTokens = map[string]string{"alice": "alice-console-token", "bob": "bob-console-token"}

// namedAdminTokens is the admin.tokens section for consoleTokens.
func namedAdminTokens() string {
	out := "  tokens:\n"
	for _, name := range []string{"alice", "bob"} {
		sum := sha256.Sum256([]byte(consoleTokens[name]))
		out += "    - {name: " + name + ", token_sha256: " + hex.EncodeToString(sum[:]) + "}\n"
	}
	return out
}

// browser starts a headless chromium for the test, or skips it (saying
// why) when none is installed; .ci/run installs one.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("no chromium on PATH (install Debian's chromium: apt-get install -y chromium); the console's browser tests need one")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.WindowSize(1280, 900))
	if os.Geteuid() == 0 {
		// Chromium's sandbox refuses to run as root (CI runs as root).
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first run starts the browser, which lives as long as its context.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// shots is where the console's screenshots go: $WARDEN_SCREENSHOTS, or a
// temporary folder; the path is logged.
func shots(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("WARDEN_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("console screenshots in %s", dir)
	return dir
}

// screenshot saves the whole page as dir/name.png.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	// Its own time limit, so that a test that timed out can still show
	// where it stood.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// signIn opens a console page as someone who is not signed in, lands on
// the login page, and signs in with token.
func signIn(t *testing.T, ctx context.Context, adminURL, page, token, dir string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(adminURL+page), chromedp.WaitVisible(chromedp.ID("token"))); err != nil {
		t.Fatalf("open %s: %v", page, err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(loc) == filepath.Base(page) {
		t.Fatalf("%s was shown without a login (at %s)", page, loc)
	}
	screenshot(t, ctx, dir, "login")
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("token"), token)); err != nil {
		t.Fatalf("type the token: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("sign-in"))); err != nil {
		t.Fatalf("click sign in: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("operator"))); err != nil {
		screenshot(t, ctx, dir, "login-failed")
		t.Fatalf("sign in: %v", err)
	}
	// The live stream is connected: changes from now on reach the page.
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(`body[data-connected="1"]`))); err != nil {
		t.Fatalf("the live stream did not connect: %v", err)
	}
}

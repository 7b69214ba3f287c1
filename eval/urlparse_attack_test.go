package eval

import "testing"

// TestHostHasOneSpellingPerHost: a name with its root's trailing dot
// ("evil.com.") is the same host to DNS, to fetch and to net/http, so
// host() gives it without the dot; otherwise a guard that keeps mail or
// requests away from a host is walked around by adding the dot.
func TestHostHasOneSpellingPerHost(t *testing.T) {
	guard, err := Compile(`!(host(args.url) == "evil.com" || host(args.url) endsWith ".evil.com")`, Guard)
	if err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{
		"https://evil.com/?key=1",
		"https://evil.com./?key=1",
		"https://WWW.Evil.Com./?key=1",
		"https://api.evil.com.:443/?key=1",
		"evil.com./k",
		"https://evil.com%E3%80%82/?key=1", // an ideographic full stop, percent-encoded
	} {
		ok, err := guard.Bool(&Env{Args: map[string]any{"url": url}})
		if err == nil && ok {
			t.Errorf("a guard that keeps requests away from evil.com lets %q through (host %q)", url, mustHost(url))
		}
	}
	for _, url := range []string{"https://evil.com../", "https://./"} {
		if got, err := host(url); err == nil {
			t.Errorf("host(%q) = %q; want it refused", url, got)
		}
	}
}

func mustHost(url string) string {
	h, _ := host(url)
	return h
}

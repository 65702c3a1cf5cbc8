package main

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// abUsage is the synopsis of the ab subcommand.
const abUsage = `usage: bench ab -id ID -rows FILE [flags] --- LABEL [VAR=VALUE...] PROGRAM [ARG...] --- LABEL ... [--- ...]

Runs the commands in alternation: -rounds rounds of -runs runs of each,
the order rotated at every run, after -warmup untimed runs of each. The
first command is measured against the second (the anchor); any further
ones are references, each also measured against the anchor (row ID
ID.LABEL-SLUG). Each run goes through a small C launcher (launcher/launch.c)
that measures the command's wall time, CPU time (user + system, from
wait4) and peak RSS (ru_maxrss); for each round the median of each
command's runs is taken;
the rows appended to FILE give the median and range of those and of the
per-round ratios.`

// abCommand is one command of an ab run.
type abCommand struct {
	label string
	env   []string
	argv  []string
	// per round: the runs' values
	wall, cpu, rss [][]float64
}

var envAssign = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// errUsage is wrapped by errors about the command line of a subcommand.
var errUsage = errors.New("usage")

// parseABCommands splits args at "---" into commands: a label, optional
// VAR=VALUE assignments, the program and its arguments.
func parseABCommands(args []string) ([]*abCommand, error) {
	if len(args) == 0 || args[0] != "---" {
		return nil, fmt.Errorf("commands must start with ---: %w", errUsage)
	}
	var cmds []*abCommand
	for _, a := range args[1:] {
		if a == "---" {
			cmds = append(cmds, &abCommand{})
			continue
		}
		if len(cmds) == 0 {
			cmds = append(cmds, &abCommand{})
		}
		c := cmds[len(cmds)-1]
		switch {
		case c.label == "":
			c.label = a
		case len(c.argv) == 0 && envAssign.MatchString(a):
			c.env = append(c.env, a)
		default:
			c.argv = append(c.argv, a)
		}
	}
	if len(cmds) < 2 {
		return nil, fmt.Errorf("%d commands, want at least 2: %w", len(cmds), errUsage)
	}
	for i, c := range cmds {
		if len(c.argv) == 0 {
			return nil, fmt.Errorf("command %d (%q) has no program: %w", i+1, c.label, errUsage)
		}
	}
	return cmds, nil
}

func (c *abCommand) String() string {
	return shellJoin(append(append([]string{}, c.env...), c.argv...))
}

// abRun is the outcome of one run of a command.
type abRun struct{ wall, cpu, rss float64 } // ms, ms, MiB

//go:embed launcher/launch.c
var launcherSource []byte

// buildLauncher compiles the launcher (launcher/launch.c) into dir.
func buildLauncher(dir string) (string, error) {
	src, bin := filepath.Join(dir, "launch.c"), filepath.Join(dir, "launch")
	if err := os.WriteFile(src, launcherSource, 0o644); err != nil {
		return "", err
	}
	if err := runQuiet("", "gcc", "-O2", "-Wall", "-o", bin, src); err != nil {
		return "", fmt.Errorf("compiling the launcher: %w", err)
	}
	return bin, nil
}

// run runs c once through the launcher with stdin from the file at
// stdinPath (none when ""), its standard output to stdout, and returns
// what the launcher measured.
func (c *abCommand) run(launcher, stdinPath string, stdout *os.File) (abRun, error) {
	cmd := exec.Command(launcher, c.argv...)
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Stdout = stdout
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if stdinPath != "" {
		// Not an input: the file the runner named for the commands.
		in, err := os.Open(stdinPath)
		if err != nil {
			return abRun{}, err
		}
		defer in.Close()
		cmd.Stdin = in
	}
	r, w, err := os.Pipe()
	if err != nil {
		return abRun{}, err
	}
	defer r.Close()
	cmd.ExtraFiles = []*os.File{w} // the launcher's file descriptor 3
	err = cmd.Start()
	w.Close()
	if err != nil {
		return abRun{}, fmt.Errorf("%s: %w", c, err)
	}
	report, readErr := io.ReadAll(r)
	if err := cmd.Wait(); err != nil {
		return abRun{}, fmt.Errorf("%s: %w\n%s", c, err, stderr.Bytes())
	}
	var wallNs, userUs, sysUs, rssKiB int64
	if _, err := fmt.Sscan(string(report), &wallNs, &userUs, &sysUs, &rssKiB); readErr != nil || err != nil {
		return abRun{}, fmt.Errorf("%s: the launcher reported %q (%v, %v)", c, report, readErr, err)
	}
	return abRun{
		wall: float64(wallNs) / 1e6,
		cpu:  float64(userUs+sysUs) / 1e3,
		rss:  float64(rssKiB) / 1024,
	}, nil
}

// outputDigest runs c once and returns the size and SHA-256 of its
// standard output, read from a temporary file so that the runner's own
// memory (which a child's ru_maxrss counts until its exec) stays small.
func (c *abCommand) outputDigest(launcher, stdinPath string) (int64, string, error) {
	f, err := os.CreateTemp("", "gokmod-bench-out-")
	if err != nil {
		return 0, "", err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := c.run(launcher, stdinPath, f); err != nil {
		return 0, "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, "", err
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

func abMain(args []string) error {
	fs := flag.NewFlagSet("ab", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), abUsage); fs.PrintDefaults() }
	id := fs.String("id", "", "row ID (required)")
	rowsPath := fs.String("rows", "", "rows file to append to (required)")
	rounds := fs.Int("rounds", 5, "rounds")
	runs := fs.Int("runs", 1, "runs of each command in a round")
	warmup := fs.Int("warmup", 1, "untimed runs of each command first")
	stdin := fs.String("stdin", "", "file every run reads as standard input")
	compare := fs.Bool("compare", false, "compare the standard output of the first two commands (one run each) and record whether it is identical")
	check := fs.String("check", "", "what the caller compared and found, recorded in the rows (overrides -compare's)")
	// The flag package would take "---" for a malformed flag: the
	// commands start there.
	split := slices.Index(args, "---")
	if split < 0 {
		split = len(args)
	}
	if err := fs.Parse(args[:split]); err != nil || fs.NArg() != 0 {
		return fmt.Errorf("ab: flags before the commands only: %w", errUsage)
	}
	cmds, err := parseABCommands(args[split:])
	if err != nil {
		return fmt.Errorf("ab: %w", err)
	}
	if *id == "" || *rowsPath == "" || *rounds < 1 || *runs < 1 || *warmup < 0 {
		fs.Usage()
		return fmt.Errorf("ab: -id and -rows are required, -rounds and -runs at least 1: %w", errUsage)
	}

	tmp, err := os.MkdirTemp("", "gokmod-bench-ab-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	launcher, err := buildLauncher(tmp)
	if err != nil {
		return fmt.Errorf("ab: %w", err)
	}

	result := "-"
	if *compare {
		nA, sumA, err := cmds[0].outputDigest(launcher, *stdin)
		if err != nil {
			return fmt.Errorf("ab %s: %w", *id, err)
		}
		nB, sumB, err := cmds[1].outputDigest(launcher, *stdin)
		if err != nil {
			return fmt.Errorf("ab %s: %w", *id, err)
		}
		result = fmt.Sprintf("identical (%d bytes)", nA)
		if nA != nB || sumA != sumB {
			result = fmt.Sprintf("differ: %d vs %d bytes of output", nA, nB)
		}
	}
	if *check != "" {
		result = *check
	}

	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	for range *warmup {
		for _, c := range cmds {
			if _, err := c.run(launcher, *stdin, devnull); err != nil {
				return fmt.Errorf("ab %s: %w", *id, err)
			}
		}
	}
	fmt.Fprintf(os.Stderr, "bench ab %s: %d rounds of %d runs of %d commands\n", *id, *rounds, *runs, len(cmds))
	k := 0
	for range *rounds {
		for _, c := range cmds {
			c.wall = append(c.wall, nil)
			c.cpu = append(c.cpu, nil)
			c.rss = append(c.rss, nil)
		}
		for range *runs {
			for j := range cmds {
				c := cmds[(k+j)%len(cmds)]
				r, err := c.run(launcher, *stdin, devnull)
				if err != nil {
					return fmt.Errorf("ab %s: %w", *id, err)
				}
				last := len(c.wall) - 1
				c.wall[last] = append(c.wall[last], r.wall)
				c.cpu[last] = append(c.cpu[last], r.cpu)
				c.rss[last] = append(c.rss[last], r.rss)
			}
			k++
		}
	}

	var rows []row
	anchor := cmds[1]
	for i, c := range cmds {
		if i == 1 {
			continue
		}
		rid := *id
		if i > 1 {
			rid += "." + slug(c.label)
		}
		for _, m := range []struct {
			name, unit string
			get        func(*abCommand) [][]float64
		}{
			{"wall", "ms", func(c *abCommand) [][]float64 { return c.wall }},
			{"cpu", "ms", func(c *abCommand) [][]float64 { return c.cpu }},
			{"rss", "MiB", func(c *abCommand) [][]float64 { return c.rss }},
		} {
			r := pairedRow(rid, m.name, m.unit, c.label, anchor.label, roundMedians(m.get(c)), roundMedians(m.get(anchor)), false)
			if i == 0 {
				r.Check = result
			}
			rows = append(rows, r)
		}
	}
	return appendRows(*rowsPath, rows...)
}

// roundMedians returns the median of each round's runs.
func roundMedians(perRound [][]float64) []float64 {
	m := make([]float64, len(perRound))
	for i, v := range perRound {
		m[i] = median(v)
	}
	return m
}

// slug turns a label into an ID part: lower case, runs of anything but
// letters and digits as one "-".
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	return b.String()
}

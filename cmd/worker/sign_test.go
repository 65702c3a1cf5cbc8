package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe/internal/testmod"
)

// TestSignCLIMatchesSignFile: gokmod sign and sign-file, given the same
// arguments and options, write the same files (the signed module, the
// .p7s of -p and -d) and exit alike, for an RSA key, in place and into
// DEST, with -k and -s, with key and certificate in one file, a DER
// certificate and a PEM-encrypted key with KBUILD_SIGN_PIN.
func TestSignCLIMatchesSignFile(t *testing.T) {
	signFile := testmod.SignFile(t)
	openssl := testmod.RequireTool(t, "openssl")
	root, release := testmod.DebianTree(t)
	src := filepath.Join(root, "lib", "modules", release, "kernel", "net", "key", "af_key.ko")
	module, err := os.ReadFile(src)
	require.NoError(t, err)
	dir := t.TempDir()
	in := func(name string) string { return filepath.Join(dir, name) }
	sh := func(name string, args ...string) {
		out, err := exec.Command(name, args...).CombinedOutput()
		require.NoError(t, err, "%s %q: %s", name, args, out)
	}
	sh(openssl, "req", "-new", "-nodes", "-utf8", "-sha256", "-days", "36500", "-batch", "-x509",
		"-subj", "/CN=gokmod CLI test", "-newkey", "rsa:2048", "-keyout", in("key.pem"), "-out", in("cert.pem"))
	sh(openssl, "x509", "-in", in("cert.pem"), "-outform", "DER", "-out", in("cert.der"))
	sh(openssl, "rsa", "-in", in("key.pem"), "-aes256", "-traditional", "-passout", "pass:secret pin", "-out", in("enc.pem"))
	sh(openssl, "pkcs8", "-topk8", "-in", in("key.pem"), "-v2", "aes-256-cbc", "-passout", "pass:secret pin", "-out", in("enc8.pem"))
	both, err := os.ReadFile(in("key.pem"))
	require.NoError(t, err)
	cert, err := os.ReadFile(in("cert.pem"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(in("both.pem"), append(both, cert...), 0o600))

	type run struct {
		name string
		args func(mod string) []string // the arguments, given the module's path
		vars map[string]string
		dest string // the output file beside the module: "" for in place
	}
	pin := map[string]string{"KBUILD_SIGN_PIN": "secret pin"}
	runs := []run{
		{"in place", func(m string) []string { return []string{"sha256", in("key.pem"), in("cert.pem"), m} }, nil, ""},
		{"dest", func(m string) []string { return []string{"sha512", in("key.pem"), in("cert.pem"), m, m + ".out"} }, nil, ".out"},
		{"dest is module", func(m string) []string { return []string{"sha384", in("key.pem"), in("cert.pem"), m, m} }, nil, ""},
		{"-p", func(m string) []string { return []string{"-p", "sha256", in("key.pem"), in("cert.pem"), m, m + ".out"} }, nil, ".out"},
		{"-d", func(m string) []string { return []string{"-d", "sha256", in("key.pem"), in("cert.pem"), m} }, nil, ""},
		{"-k", func(m string) []string { return []string{"sha256", "-k", in("key.pem"), in("cert.pem"), m, m + ".out"} }, nil, ".out"},
		{"-s", func(m string) []string {
			return []string{"-s", in("cert.der"), "sha256", in("cert.pem"), m, m + ".out"}
		}, nil, ".out"},
		{"one file", func(m string) []string { return []string{"sha256", in("both.pem"), in("both.pem"), m, m + ".out"} }, nil, ".out"},
		{"DER certificate", func(m string) []string { return []string{"sha256", in("key.pem"), in("cert.der"), m, m + ".out"} }, nil, ".out"},
		{"encrypted key", func(m string) []string { return []string{"sha256", in("enc.pem"), in("cert.pem"), m, m + ".out"} }, pin, ".out"},
		{"encrypted PKCS#8 key", func(m string) []string { return []string{"sha256", in("enc8.pem"), in("cert.pem"), m, m + ".out"} }, pin, ".out"},
		{"encrypted PKCS#8 key, wrong pin", func(m string) []string { return []string{"sha256", in("enc8.pem"), in("cert.pem"), m, m + ".out"} }, map[string]string{"KBUILD_SIGN_PIN": "wrong"}, ".out"},
		{"encrypted key, no pin", func(m string) []string { return []string{"sha256", in("enc.pem"), in("cert.pem"), m, m + ".out"} }, nil, ".out"},
		{"usage", func(m string) []string { return []string{"sha256", in("key.pem"), m} }, nil, ".out"},
		{"unknown option", func(m string) []string { return []string{"-x", "sha256", in("key.pem"), in("cert.pem"), m} }, nil, ""},
		{"missing module", func(m string) []string { return []string{"sha256", in("key.pem"), in("cert.pem"), m + ".none"} }, nil, ""},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			files := map[string]map[string][]byte{}
			codes := map[string]int{}
			for _, who := range []string{"sign-file", "gokmod"} {
				wd := filepath.Join(dir, r.name, who)
				require.NoError(t, os.MkdirAll(wd, 0o755))
				mod := filepath.Join(wd, "m.ko")
				require.NoError(t, os.WriteFile(mod, module, 0o644))
				if who == "sign-file" {
					cmd := exec.Command(signFile, r.args(mod)...)
					cmd.Env = []string{"PATH=/usr/bin:/bin"}
					for k, v := range r.vars {
						cmd.Env = append(cmd.Env, k+"="+v)
					}
					err := cmd.Run()
					var ee *exec.ExitError
					if err != nil {
						require.ErrorAs(t, err, &ee)
						codes[who] = ee.ExitCode()
					}
				} else {
					o := runOursAs("gokmod", "sign", r.args(mod), r.vars)
					codes[who] = o.Code
					if o.Code != 0 {
						assert.NotEmpty(t, o.Stderr)
					}
				}
				files[who] = map[string][]byte{}
				entries, err := os.ReadDir(wd)
				require.NoError(t, err)
				for _, e := range entries {
					b, err := os.ReadFile(filepath.Join(wd, e.Name()))
					require.NoError(t, err)
					files[who][e.Name()] = b
				}
			}
			assert.Equal(t, codes["sign-file"], codes["gokmod"], "exit status")
			require.Equal(t, len(files["sign-file"]), len(files["gokmod"]), "files written")
			for name, want := range files["sign-file"] {
				assert.True(t, bytes.Equal(want, files["gokmod"][name]), "%s differs", name)
			}
		})
	}
}

// TestSignCLICompressed: gokmod sign signs an xz or a zstd module inside
// its compression (the result decompresses to sign-file's output on the
// plain module) and refuses a corrupt one, leaving it as it was.
func TestSignCLICompressed(t *testing.T) {
	signFile := testmod.SignFile(t)
	openssl := testmod.RequireTool(t, "openssl")
	xzTool := testmod.RequireTool(t, "xz")
	root, release := testmod.DebianTree(t)
	module, err := os.ReadFile(filepath.Join(root, "lib", "modules", release, "kernel", "net", "key", "af_key.ko"))
	require.NoError(t, err)
	dir := t.TempDir()
	key, cert := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	out, err := exec.Command(openssl, "req", "-new", "-nodes", "-batch", "-x509", "-subj", "/CN=t", "-newkey", "rsa:2048", "-keyout", key, "-out", cert).CombinedOutput()
	require.NoError(t, err, "%s", out)
	plain := filepath.Join(dir, "m.ko")
	require.NoError(t, os.WriteFile(plain, module, 0o644))
	out, err = exec.Command(signFile, "sha256", key, cert, plain, plain+".ref").CombinedOutput()
	require.NoError(t, err, "%s", out)
	want, err := os.ReadFile(plain + ".ref")
	require.NoError(t, err)

	xzFile := filepath.Join(dir, "m.ko.xz")
	require.NoError(t, os.WriteFile(xzFile, testmod.MustCompress(t, module, testmod.Xz), 0o644))
	o := runOursAs("gokmod", "sign", []string{"sha256", key, cert, xzFile}, nil)
	require.Equal(t, 0, o.Code, "%v", o)
	got, err := exec.Command(xzTool, "-dc", xzFile).Output()
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got), "the decompressed signed module differs from sign-file's")

	zstdTool := testmod.RequireTool(t, "zstd")
	zst := filepath.Join(dir, "m.ko.zst")
	require.NoError(t, os.WriteFile(zst, testmod.MustCompress(t, module, testmod.Zstd), 0o644))
	o = runOursAs("gokmod", "sign", []string{"sha256", key, cert, zst}, nil)
	require.Equal(t, 0, o.Code, "%v", o)
	got, err = exec.Command(zstdTool, "-dc", zst).Output()
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got), "the decompressed signed zstd module differs from sign-file's")

	bad := filepath.Join(dir, "bad.ko.xz")
	zdata := testmod.MustCompress(t, module, testmod.Xz)[:200]
	require.NoError(t, os.WriteFile(bad, zdata, 0o644))
	o = runOursAs("gokmod", "sign", []string{"sha256", key, cert, bad}, nil)
	assert.Equal(t, 1, o.Code)
	assert.Contains(t, o.Stderr, "bad.ko.xz")
	after, err := os.ReadFile(bad)
	require.NoError(t, err)
	assert.Equal(t, zdata, after, "a refused module is left as it was")
}

// runOursAs runs the worker's tool as gokmod hands it over: argv[0] as
// the user typed it, then the tool's name and its arguments; vars is the
// environment.
func runOursAs(argv0, tool string, args []string, vars map[string]string) outcome {
	var out, errb bytes.Buffer
	e := &env{
		Stdin:  strings.NewReader(""),
		Stdout: &out,
		Stderr: &errb,
		Getenv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		Setenv: func(string, string) {},
	}
	code := run(e, append([]string{argv0, tool}, args...))
	return outcome{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// TestSignRefusesFIFO: a key, certificate or module that is a FIFO is
// refused at once, naming it, without waiting for a writer.
func TestSignRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	plain := filepath.Join(dir, "m.ko")
	require.NoError(t, os.WriteFile(plain, []byte("\x7fELF"), 0o644))
	for _, args := range [][]string{
		{"sha256", fifo, fifo, plain},
		{"sha256", plain, plain, fifo},
		{"-s", fifo, "sha256", plain, plain},
	} {
		done := make(chan outcome, 1)
		go func() { done <- runOursAs("gokmod", "sign", args, nil) }()
		select {
		case o := <-done:
			assert.Equal(t, 1, o.Code, "%v: %v", args, o)
			assert.Contains(t, o.Stderr, fifo, "%v", args)
		case <-time.After(10 * time.Second):
			t.Fatalf("gokmod sign %v waits on the FIFO", args)
		}
	}
}

package preflight_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokmod/modprobe"
	"github.com/gokmod/modprobe/depmod"
	"github.com/gokmod/modprobe/internal/modfile"
	"github.com/gokmod/modprobe/internal/testmod"
	"github.com/gokmod/modprobe/preflight"
	"github.com/gokmod/modprobe/sign"
)

// tree is a Debian kernel tree and its Module.symvers.
type tree struct{ root, release, symvers string }

func debian12(t *testing.T) tree {
	root, release := testmod.DebianTree(t)
	return tree{root, release, testmod.DebianSymvers(t)}
}

func debian13(t *testing.T) tree {
	root, release := testmod.Debian13Tree(t)
	return tree{root, release, testmod.DebianSymvers13(t)}
}

// moduleCache holds what the tests read of both Debian trees' modules,
// for every Check of the package's tests: each tree is read and
// decompressed once, not at every Check (CI's -race run of the package
// took some 450 s when each of them read the whole tree).
var moduleCache = &depmod.ModuleCache{}

// options are the Options of a check against the tree, sharing
// moduleCache.
func (tr tree) options(symvers bool) preflight.Options {
	return preflight.Options{Target: tr.target(symvers), Cache: moduleCache}
}

func (tr tree) target(symvers bool) preflight.Target {
	t := preflight.Target{BaseDir: tr.root, Release: tr.release}
	if symvers {
		t.Symvers = tr.symvers
	}
	return t
}

func (tr tree) kernelDir() string {
	return filepath.Join(testmod.ModuleDir(tr.root, tr.release), "kernel")
}

// image returns the ELF image of the tree's module at rel (below
// kernel/, without its compression suffix).
func (tr tree) image(t *testing.T, rel string) []byte {
	t.Helper()
	for _, suffix := range []string{"", ".xz", ".zst", ".gz"} {
		data, err := os.ReadFile(filepath.Join(tr.kernelDir(), rel+suffix))
		if err == nil {
			img, err := modfile.DecompressBytes(data, modprobe.DefaultMaxModuleSize)
			require.NoError(t, err)
			return img
		}
	}
	t.Fatalf("no module %s in %s", rel, tr.kernelDir())
	return nil
}

// kindName is the name PreflightCase.Want uses for a problem's kind.
func kindName(p *preflight.Problem) string {
	switch p.Kind() {
	case preflight.ErrVermagic:
		return "vermagic"
	case preflight.ErrCRC:
		return "crc"
	case preflight.ErrUnknownSymbol:
		return "unknown"
	case preflight.ErrDependency:
		return "dependency"
	case preflight.ErrModuleStruct:
		return "struct"
	case preflight.ErrNamespace:
		return "namespace"
	}
	return p.Kind().Error()
}

// TestPreflightCases: modules made from each kernel's own dummy, macvlan
// and macvtap to meet one check each are judged as the kernel judges them
// (the VM test loads the same cases), with Module.symvers and without.
func TestPreflightCases(t *testing.T) {
	for _, tc := range []struct {
		name string
		tree func(*testing.T) tree
	}{{"debian12", debian12}, {"debian13", debian13}} {
		t.Run(tc.name, func(t *testing.T) {
			tr := tc.tree(t)
			cases, err := testmod.PreflightCases(map[string][]byte{
				"dummy":      tr.image(t, "drivers/net/dummy.ko"),
				"macvlan":    tr.image(t, "drivers/net/macvlan.ko"),
				"macvtap":    tr.image(t, "drivers/net/macvtap.ko"),
				"ums_alauda": tr.image(t, "drivers/usb/storage/ums-alauda.ko"),
			})
			require.NoError(t, err)
			dir := t.TempDir()
			var paths []string
			want := map[string]string{}
			for _, c := range cases {
				for name, img := range c.Files {
					require.NoError(t, os.WriteFile(filepath.Join(dir, name), img, 0o644))
					paths = append(paths, filepath.Join(dir, name))
					want[name] = c.Want[name]
				}
			}
			for _, symvers := range []bool{true, false} {
				ck, err := preflight.Open(t.Context(), tr.options(symvers))
				require.NoError(t, err)
				rep, err := ck.Check(t.Context(), paths...)
				require.NoError(t, err)
				require.Len(t, rep.Verdicts, len(paths))
				unchecked := false
				for _, v := range rep.Verdicts {
					unchecked = unchecked || len(v.Unchecked) > 0
				}
				for _, v := range rep.Verdicts {
					w := want[filepath.Base(v.Module)]
					switch {
					case w == "":
						assert.True(t, v.Loads(), "%s (symvers %v): %v", v.Module, symvers, v.Problems)
					case !symvers && v.Loads():
						// Without Module.symvers a kernel symbol only
						// the changed modules import cannot be told.
						assert.True(t, unchecked, "%s: loads without Module.symvers, and nothing is unchecked", v.Module)
					case assert.False(t, v.Loads(), "%s (symvers %v)", v.Module, symvers):
						assert.Equal(t, w, kindName(v.Problems[0]), "%s (symvers %v): %v", v.Module, symvers, v.Problems)
					}
				}
				if !symvers {
					assert.NotEmpty(t, rep.Missing, "without Module.symvers the report says what it lacks")
				}
				// The Checker, having checked the set, checks a case
				// alone as a Checker opened for it does: nothing of one
				// check's tree stays for the next.
				p := paths[len(paths)-1]
				again, err := ck.Check(t.Context(), p)
				require.NoError(t, err)
				fresh, err := preflight.Check(t.Context(), tr.options(symvers), p)
				require.NoError(t, err)
				assert.Equal(t, fresh, again, p)
			}
		})
	}
}

// all reports whether GOKMOD_PREFLIGHT_ALL asks for the checks that
// decompress a whole Debian 13 tree once more (minutes under -race): its
// modules without Module.symvers and on Debian 12's kernel; by default
// those take its drivers/net modules.
func all() bool { return os.Getenv("GOKMOD_PREFLIGHT_ALL") != "" }

// some returns the tree's modules, or its drivers/net modules unless all().
func (tr tree) some() string {
	if all() {
		return tr.kernelDir()
	}
	return filepath.Join(tr.kernelDir(), "drivers/net")
}

// TestOwnModulesLoad: every module of each Debian tree passes against its
// own tree, with Module.symvers, and Debian 13's (drivers/net's unless
// GOKMOD_PREFLIGHT_ALL is set) without.
func TestOwnModulesLoad(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tree    func(*testing.T) tree
		symvers bool
	}{{"debian12", debian12, true}, {"debian13", debian13, true}, {"debian13-no-symvers", debian13, false}} {
		t.Run(tc.name, func(t *testing.T) {
			tr := tc.tree(t)
			dir, least := tr.kernelDir(), 3000
			if !tc.symvers {
				dir, least = tr.some(), 100
			}
			rep, err := preflight.Check(t.Context(), tr.options(tc.symvers), dir)
			require.NoError(t, err)
			require.Greater(t, len(rep.Verdicts), least)
			bad := 0
			for _, v := range rep.Verdicts {
				if !v.Loads() {
					bad++
					if bad < 10 {
						t.Errorf("%s: %v", v.Module, v.Problems)
					}
				}
				if tc.symvers {
					assert.Empty(t, v.Unchecked, v.Module)
				}
			}
			assert.Zero(t, bad, "of %d modules", len(rep.Verdicts))
			t.Logf("%d modules, %d refused", len(rep.Verdicts), bad)
		})
	}
}

// TestDebian12OnDebian13: no module of Debian 12's kernel loads on Debian
// 13's: each is refused for its struct module (6.12's is larger), or for a
// dependency of Debian 12's that is, and each disagrees about
// module_layout.
func TestDebian12OnDebian13(t *testing.T) {
	d12, d13 := debian12(t), debian13(t)
	rep, err := preflight.Check(t.Context(), d13.options(true), d12.kernelDir())
	require.NoError(t, err)
	require.Greater(t, len(rep.Verdicts), 3000)
	kinds := map[string]int{}
	for _, v := range rep.Verdicts {
		require.False(t, v.Loads(), v.Module)
		first := kindName(v.Problems[0])
		kinds[first]++
		assert.Contains(t, []string{"struct", "dependency"}, first, v.Module)
		layout := false
		for _, p := range v.Problems {
			layout = layout || errors.Is(p, preflight.ErrCRC) && p.Symbol == "module_layout"
		}
		assert.True(t, layout, "%s: module_layout", v.Module)
	}
	t.Logf("%d Debian 12 modules on Debian 13's kernel: first problems %v", len(rep.Verdicts), kinds)
}

// TestDebian13OnDebian12: no module of Debian 13's kernel (drivers/net's
// unless GOKMOD_PREFLIGHT_ALL is set) loads on Debian 12's: 6.1 checks
// module_layout's CRC before anything else (it does not check the struct
// module's size first), so each module is refused for it or for a
// dependency of Debian 13's that is.
func TestDebian13OnDebian12(t *testing.T) {
	d12, d13 := debian12(t), debian13(t)
	rep, err := preflight.Check(t.Context(), d12.options(true), d13.some())
	require.NoError(t, err)
	require.Greater(t, len(rep.Verdicts), 100)
	kinds := map[string]int{}
	for _, v := range rep.Verdicts {
		require.False(t, v.Loads(), v.Module)
		p := v.Problems[0]
		kinds[kindName(p)]++
		if !errors.Is(p, preflight.ErrDependency) {
			assert.True(t, errors.Is(p, preflight.ErrCRC) && p.Symbol == "module_layout", "%s: %v", v.Module, p)
		}
	}
	t.Logf("%d Debian 13 modules on Debian 12's kernel: first problems %v", len(rep.Verdicts), kinds)
}

// TestSignature: with certificates, a module signed by one of them passes
// and one signed by another key, or not at all, is refused.
func TestSignature(t *testing.T) {
	tr := debian12(t)
	img := testmod.Unsigned(tr.image(t, "drivers/net/dummy.ko"))
	dir := t.TempDir()
	certs := make([]*x509.Certificate, 2)
	for i := range certs {
		key, cert := newCert(t)
		certs[i] = cert
		s, err := sign.NewSigner(key, cert, crypto.SHA256, false)
		require.NoError(t, err)
		data, err := s.Sign(img)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "dummy_signed"+string(rune('a'+i))+".ko"), data, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dummy_unsigned.ko"), img, 0o644))
	want := map[string]error{"dummy_signeda.ko": nil, "dummy_signedb.ko": sign.ErrNoSigner, "dummy_unsigned.ko": sign.ErrNotSigned}
	rep, err := preflight.Check(t.Context(), preflight.Options{Target: tr.target(true), Certificates: certs[:1], Cache: moduleCache}, dir)
	require.NoError(t, err)
	require.Len(t, rep.Verdicts, len(want))
	for _, v := range rep.Verdicts {
		w := want[filepath.Base(v.Module)]
		if w == nil {
			assert.True(t, v.Loads(), "%s: %v", v.Module, v.Problems)
			continue
		}
		require.False(t, v.Loads(), v.Module)
		assert.ErrorIs(t, v.Problems[0], preflight.ErrSignature)
		assert.ErrorIs(t, v.Problems[0], w)
	}
}

func newCert(t *testing.T) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "preflight test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), SubjectKeyId: []byte{1, 2, 3, 4},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return key, cert
}

// TestCheckBadInput: what cannot be checked fails with an error naming
// the input; a file that is no module is a verdict of its own.
func TestCheckBadInput(t *testing.T) {
	tr := debian12(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.ko")
	require.NoError(t, os.WriteFile(garbage, []byte("not an ELF file at all"), 0o644))
	a, b := filepath.Join(dir, "a", "dummy.ko"), filepath.Join(dir, "b", "dummy.ko")
	for _, p := range []string{a, b} {
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, tr.image(t, "drivers/net/dummy.ko"), 0o644))
	}
	ctx := t.Context()
	_, err := preflight.Check(ctx, preflight.Options{Target: preflight.Target{BaseDir: tr.root}}, a)
	assert.ErrorIs(t, err, preflight.ErrTarget)
	_, err = preflight.Check(ctx, preflight.Options{Target: preflight.Target{BaseDir: dir, Release: "nosuch"}}, a)
	assert.ErrorIs(t, err, preflight.ErrTarget)
	assert.ErrorContains(t, err, filepath.Join(dir, "lib/modules/nosuch"))
	_, err = preflight.Check(ctx, tr.options(true), a, b)
	assert.ErrorIs(t, err, preflight.ErrSameName)
	_, err = preflight.Check(ctx, tr.options(true), filepath.Join(dir, "nosuch.ko"))
	assert.ErrorContains(t, err, "nosuch.ko")
	bad := tr.target(true)
	bad.Symvers = filepath.Join(dir, "nosuch.symvers")
	_, err = preflight.Check(ctx, preflight.Options{Target: bad}, a)
	assert.ErrorContains(t, err, "nosuch.symvers")
	rep, err := preflight.Check(ctx, tr.options(true), garbage)
	require.NoError(t, err)
	require.Len(t, rep.Verdicts, 1)
	require.False(t, rep.Verdicts[0].Loads())
	assert.ErrorIs(t, rep.Verdicts[0].Problems[0], preflight.ErrUnreadable)
}

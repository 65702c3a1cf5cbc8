package modfile

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSHA256MatchesCryptoSHA256: the xz check's SHA-256 equals
// crypto/sha256 for every length from 0 to 300 bytes (the padding's one-
// and two-block cases, 55/56 and 63/64 bytes among them) and for longer
// random inputs.
func TestSHA256MatchesCryptoSHA256(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 1<<16+7)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for n := 0; n <= 300; n++ {
		require.Equal(t, sha256.Sum256(data[:n]), sha256Sum(data[:n]), "%d bytes", n)
	}
	for range 20 {
		n := rng.IntN(len(data) + 1)
		require.Equal(t, sha256.Sum256(data[:n]), sha256Sum(data[:n]), "%d bytes", n)
	}
	require.Equal(t, sha256.Sum256(data), sha256Sum(data), "%d bytes", len(data))
}

// TestSHA256KnownAnswer: FIPS 180-4's example "abc".
func TestSHA256KnownAnswer(t *testing.T) {
	got := sha256Sum([]byte("abc"))
	require.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hex.EncodeToString(got[:]))
}

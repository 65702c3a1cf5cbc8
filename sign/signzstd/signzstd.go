// Package signzstd compresses signed modules with zstd as the kernel's
// build does (zstd's default level, with a content checksum), for
// sign.Options.Zstd. It is apart from package sign so that programs that
// need no zstd writer, such as gokmod, do not link klauspost/compress.
package signzstd

import "github.com/klauspost/compress/zstd"

// Compress returns image compressed in one zstd frame that records the
// content size and a checksum, like `zstd -q` on the module.
func Compress(image []byte) ([]byte, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderCRC(true), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	return enc.EncodeAll(image, nil), nil
}

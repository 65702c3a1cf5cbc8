//go:build linux && (mips || mipsle || mips64 || mips64le)

package kernel

// kernelSigsetSize is the size in bytes of the kernel's signal mask,
// _NSIG / 8, that rt_sigprocmask(2) takes: MIPS has 128 signals.
const kernelSigsetSize = 16

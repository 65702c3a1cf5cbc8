// Package consumer holds three small programs' worth of module loading
// written the way gokmod's consumers would write them, against its public
// API only: a Kata-like guest step (LoadKataModules), a KMM-like worker
// step (LoadFromImageTree) and an iSulad-like hook step (LoadHookModules).
// Their tests run them on modprobetest's fake kernel with the race
// detector, eight jobs and a logging Show.
package consumer

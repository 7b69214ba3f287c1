//go:build race

package store

// raceDetector is whether the race detector is on: it allocates beside
// the code under test, so allocation bounds allow for it.
const raceDetector = true

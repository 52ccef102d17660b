//go:build race

package testenv

// Race reports whether the test binary was built with the race detector,
// which multiplies the memory a program holds (5 to 10 times, as its
// documentation says): figures of peak memory then measure the detector.
const Race = true

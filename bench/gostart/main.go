// Command gostart does nothing: the bench times it as the start of a Go
// process with only the runtime to initialise, for goal 3's floor (a
// verifier need not load what referee's other commands link).
package main

func main() {}

// Package archtest holds tests of the repository's structure, such as the direction of
// dependencies between packages (design §3). It has no code of its own.
package archtest

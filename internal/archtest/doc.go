// Package archtest holds tests of the repository's structure, such as the direction of
// dependencies between packages: the core packages (admission, catalog, estimation,
// control, routing) import neither the AWS SDK nor go-redis nor Prometheus, and the size
// of the public packages' exported surface (TestExportedSurface). It has no code of its
// own.
package archtest

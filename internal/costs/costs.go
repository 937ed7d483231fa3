// Package costs reads and combines quota.Cost values by dimension, for the packages that
// estimate, simulate or store costs against limits of any dimension.
package costs

import "github.com/tollgate-dev/tollgate/quota"

// Get returns c's amount in dimension d, or 0 for an unknown dimension.
func Get(c quota.Cost, d quota.Dimension) int64 {
	switch d {
	case quota.Requests:
		return c.Requests
	case quota.Tokens:
		return c.Tokens
	case quota.InputTokens:
		return c.InputTokens
	case quota.OutputTokens:
		return c.OutputTokens
	}
	return 0
}

// Set sets c's amount in dimension d to v; an unknown dimension changes nothing.
func Set(c *quota.Cost, d quota.Dimension, v int64) {
	switch d {
	case quota.Requests:
		c.Requests = v
	case quota.Tokens:
		c.Tokens = v
	case quota.InputTokens:
		c.InputTokens = v
	case quota.OutputTokens:
		c.OutputTokens = v
	}
}

// Add returns a + b, dimension by dimension.
func Add(a, b quota.Cost) quota.Cost {
	return quota.Cost{Requests: a.Requests + b.Requests, Tokens: a.Tokens + b.Tokens,
		InputTokens: a.InputTokens + b.InputTokens, OutputTokens: a.OutputTokens + b.OutputTokens}
}

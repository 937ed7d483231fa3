package quota

import (
	"fmt"
	"strconv"
	"strings"
)

// Priority is a call's class in the queue. Higher classes are admitted first (strict
// priority), except that each lower class that is waiting is owed a guaranteed share of
// the service (see Config.MinShare). The zero Priority is Normal.
type Priority int8

// The priority classes, highest first.
const (
	Critical   Priority = 2
	High       Priority = 1
	Normal     Priority = 0
	Low        Priority = -1
	Background Priority = -2

	numClasses = 5
)

// Priorities lists the classes from highest to lowest; Snapshot.Queued follows this order.
var Priorities = [numClasses]Priority{Critical, High, Normal, Low, Background}

// class returns the queue index of p: 0 for Critical through 4 for Background. Values
// outside the defined range are clamped to the nearest class.
func (p Priority) class() int {
	switch {
	case p > Critical:
		return 0
	case p < Background:
		return numClasses - 1
	}
	return int(Critical - p)
}

// String returns the class's name in lower case, e.g. "high".
func (p Priority) String() string {
	switch p {
	case Critical:
		return "critical"
	case High:
		return "high"
	case Normal:
		return "normal"
	case Low:
		return "low"
	case Background:
		return "background"
	}
	return "priority(" + strconv.Itoa(int(p)) + ")"
}

// ParsePriority reads a class name as String writes it (case-insensitive).
func ParsePriority(s string) (Priority, error) {
	for _, p := range Priorities {
		if strings.EqualFold(strings.TrimSpace(s), p.String()) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("quota: unknown priority %q: use critical, high, normal, low or background", s)
}

// MarshalText implements encoding.TextMarshaler.
func (p Priority) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParsePriority.
func (p *Priority) UnmarshalText(b []byte) error {
	v, err := ParsePriority(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

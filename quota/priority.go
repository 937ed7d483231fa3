package quota

import "strconv"

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

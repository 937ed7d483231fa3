package estimate

import (
	"bytes"
	"image"
	_ "image/gif"  // registers GIF for image.DecodeConfig
	_ "image/jpeg" // registers JPEG
	_ "image/png"  // registers PNG
	"math"

	_ "golang.org/x/image/webp" // registers WebP
)

// Anthropic's image sizing rules (https://docs.anthropic.com/claude/docs/vision, "Evaluate
// image size" and "Calculate image costs"): an image costs about width × height / 750
// tokens; one whose long edge is over 1568 px, or that would cost more than about 1,600
// tokens, is first scaled down, preserving its aspect ratio, until it fits.
const (
	// ImagePixelsPerToken is the divisor of Anthropic's formula tokens = width × height / 750.
	ImagePixelsPerToken = 750
	// MaxImageEdge is the longest edge, in pixels, an image keeps before it is scaled down.
	MaxImageEdge = 1568
	// MaxImageTokens is the most one image costs after scaling, and what an image of
	// unknown size is counted as.
	MaxImageTokens = 1600
)

// ImageTokens returns the input tokens of an image of the given size in pixels:
// ceil(w × h / 750) after scaling the long edge down to 1568 px, and at most 1,600. A size
// that is not positive is unknown and counts MaxImageTokens.
func ImageTokens(width, height int) int {
	if width <= 0 || height <= 0 {
		return MaxImageTokens
	}
	w, h := float64(width), float64(height)
	if long := math.Max(w, h); long > MaxImageEdge {
		scale := MaxImageEdge / long
		w, h = math.Floor(w*scale), math.Floor(h*scale)
	}
	return int(math.Min(math.Ceil(w*h/ImagePixelsPerToken), MaxImageTokens))
}

// imageTokens counts an image block: from its given size, else from its header.
func imageTokens(img *ImageSrc) int {
	if img == nil {
		return MaxImageTokens
	}
	w, h := img.Width, img.Height
	if (w <= 0 || h <= 0) && len(img.Data) > 0 {
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(img.Data)); err == nil {
			w, h = cfg.Width, cfg.Height
		}
	}
	return ImageTokens(w, h)
}

// Package chart draws an analysis (analyze.Report) as a PNG or SVG image of two panels:
// the demand on each limit against its capacity, and the throughput as a function of
// max_tokens with the current and recommended values marked. It uses gonum.org/v1/plot.
package chart

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/tollgate-dev/tollgate/internal/analyze"
)

// The image's size: 12 × 5 inches, 1152 × 480 pixels as a PNG at 96 dpi.
const (
	Width  = 12 * vg.Inch
	Height = 5 * vg.Inch
	DPI    = 96
)

var (
	binding = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff} // red: the constraint that binds
	other   = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff} // blue
	second  = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff} // orange
	grey    = color.Gray{Y: 0x70}
	green   = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
)

// WriteFile draws r to path, as SVG when its name ends in .svg and PNG when it ends in
// .png.
func WriteFile(path string, r *analyze.Report) error {
	format, err := Format(path)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	if err := Write(f, format, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}

// Format returns the image format a file name asks for: "png" or "svg".
func Format(path string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".png", ".svg":
		return ext[1:], nil
	default:
		return "", fmt.Errorf("chart: %q: name the file .png or .svg", path)
	}
}

// Write draws r to w in format "png" or "svg".
func Write(w io.Writer, format string, r *analyze.Report) error {
	demand, err := demandPlot(r)
	if err != nil {
		return err
	}
	curve, err := curvePlot(r)
	if err != nil {
		return err
	}
	var (
		c  vg.CanvasWriterTo
		dc draw.Canvas
	)
	switch format {
	case "png":
		img := vgimg.NewWith(vgimg.UseWH(Width, Height), vgimg.UseDPI(DPI))
		c, dc = vgimg.PngCanvas{Canvas: img}, draw.New(img)
	case "svg":
		svg := vgsvg.New(Width, Height)
		c, dc = svg, draw.New(svg)
	default:
		return fmt.Errorf("chart: unknown format %q: use png or svg", format)
	}
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Inch / 2, PadY: vg.Inch / 4,
		PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 4}
	plots := [][]*plot.Plot{{demand, curve}}
	canvases := plot.Align(plots, tiles, dc)
	demand.Draw(canvases[0][0])
	curve.Draw(canvases[0][1])
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}

// newPlot returns a plot with legible font sizes.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = 14
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text, p.Y.Label.Text = x, y
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = 12
		a.Tick.Label.Font.Size = 11
	}
	p.Legend.TextStyle.Font.Size = 11
	return p
}

// demandPlot draws, for every limit (and the cap on calls in flight), its demand ÷
// capacity on a log scale, with the capacity as a line at 1×.
func demandPlot(r *analyze.Report) (*plot.Plot, error) {
	p := newPlot("Demand on each limit at the workload's own pace", "", "demand ÷ capacity (log scale)")
	var names []string
	var cs []analyze.Constraint
	for _, c := range r.Constraints {
		if c.Key != "latency" && c.Key != "pending" {
			cs = append(cs, c)
		}
	}
	lo, hi := 1.0, 1.0
	for _, c := range cs {
		lo, hi = math.Min(lo, c.Demand), math.Max(hi, c.Demand)
	}
	lo = math.Max(lo, 1e-4)
	base := math.Pow(10, math.Floor(math.Log10(lo)))
	top := math.Pow(10, math.Ceil(math.Log10(hi*1.5)))
	for i, c := range cs {
		v := math.Max(c.Demand, base)
		x := float64(i)
		bar, err := plotter.NewPolygon(plotter.XYs{{X: x - 0.3, Y: base}, {X: x - 0.3, Y: v}, {X: x + 0.3, Y: v}, {X: x + 0.3, Y: base}})
		if err != nil {
			return nil, fmt.Errorf("chart: %w", err)
		}
		bar.Color, bar.LineStyle.Width = other, 0
		if c.Key == r.Binding {
			bar.Color = binding
		}
		p.Add(bar)
		label := c.Name
		if c.Limit != "" {
			label += "\n" + shortLimit(c)
		} else if c.Cap > 0 {
			label += "\n" + strconv.Itoa(c.Cap) + " at once"
		}
		names = append(names, label)
		lab, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: x, Y: v}}, Labels: []string{analyze.Times(c.Demand)}})
		if err != nil {
			return nil, fmt.Errorf("chart: %w", err)
		}
		lab.TextStyle[0].Font.Size = 12
		lab.TextStyle[0].XAlign = draw.XCenter
		lab.Offset = vg.Point{Y: vg.Points(4)}
		p.Add(lab)
	}
	capLine, err := plotter.NewLine(plotter.XYs{{X: -0.6, Y: 1}, {X: float64(len(cs)) - 0.4, Y: 1}})
	if err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	capLine.Color, capLine.Width, capLine.Dashes = grey, vg.Points(1.5), []vg.Length{vg.Points(6), vg.Points(4)}
	p.Add(capLine)
	p.Legend.Add("capacity (1×): above it the limit binds", capLine)
	p.Legend.Top, p.Legend.Left = true, false
	p.NominalX(names...)
	p.X.Tick.Label.Font.Size = 11
	p.X.Min, p.X.Max = -0.6, float64(len(cs))-0.4
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, ratioTicks{}
	p.Y.Min, p.Y.Max = base, top
	return p, nil
}

// curvePlot draws calls and documents per minute against max_tokens (log scale), with
// the current and recommended max_tokens marked.
func curvePlot(r *analyze.Report) (*plot.Plot, error) {
	p := newPlot("Throughput ceiling by max_tokens", "max_tokens sent with every call (log scale)", "per minute")
	var calls, docs plotter.XYs
	ymax := 0.0
	for _, pt := range r.Curve {
		calls = append(calls, plotter.XY{X: float64(pt.MaxTokens), Y: pt.CallsPerMinute})
		docs = append(docs, plotter.XY{X: float64(pt.MaxTokens), Y: pt.DocumentsPerMinute})
		ymax = math.Max(ymax, math.Max(pt.CallsPerMinute, pt.DocumentsPerMinute))
	}
	if len(calls) == 0 {
		return nil, fmt.Errorf("chart: the report has no max_tokens curve")
	}
	ymax *= 1.4
	lc, err := plotter.NewLine(calls)
	if err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	lc.Color, lc.Width = other, vg.Points(2)
	ld, err := plotter.NewLine(docs)
	if err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	ld.Color, ld.Width = second, vg.Points(2)
	p.Add(lc, ld)
	p.Legend.Add("calls/min", lc)
	p.Legend.Add("documents/min", ld)
	for _, m := range []struct {
		x     int
		label string
		c     color.Color
	}{
		{r.MaxTokens.Current, "now " + analyze.Group(int64(r.MaxTokens.Current)), grey},
		{r.MaxTokens.Recommended, "recommended " + analyze.Group(int64(r.MaxTokens.Recommended)), green},
	} {
		v, err := plotter.NewLine(plotter.XYs{{X: float64(m.x), Y: 0}, {X: float64(m.x), Y: ymax}})
		if err != nil {
			return nil, fmt.Errorf("chart: %w", err)
		}
		v.Color, v.Width, v.Dashes = m.c, vg.Points(1.5), []vg.Length{vg.Points(5), vg.Points(3)}
		p.Add(v)
		p.Legend.Add(m.label, v)
	}
	p.Legend.Top = true
	p.Legend.Left = r.MaxTokens.Recommended > 4*int(calls[0].X) && r.MaxTokens.Current > 4*int(calls[0].X)
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, tokenTicks{}
	p.X.Min, p.X.Max = calls[0].X/1.1, calls[len(calls)-1].X*1.15
	p.Y.Min, p.Y.Max = 0, ymax
	p.Y.Tick.Marker = niceTicks{}
	p.Add(plotter.NewGrid())
	return p, nil
}

// shortLimit writes a limit's capacity: "100,000/minute".
func shortLimit(c analyze.Constraint) string {
	return analyze.Group(c.Amount) + "/" + analyze.PerWord(c.Per)
}

// ratioTicks marks powers of ten as multiples: 0.01×, 0.1×, 1×, 10×.
type ratioTicks struct{}

func (ratioTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		v := math.Pow(10, e)
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64) + "×"})
	}
	return ts
}

// niceTicks marks about five round values (1, 2 or 5 × a power of ten apart).
type niceTicks struct{}

func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	step := math.Pow(10, math.Floor(math.Log10((hi-lo)/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if (hi-lo)/(m*step) <= 6 {
			step *= m
			break
		}
	}
	var ts []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', 4, 64)})
	}
	return ts
}

// tokenTicks marks 1, 2 and 5 times the powers of ten, labelled 64, 1k, 64k.
type tokenTicks struct{}

func (tokenTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < lo || v > hi {
				continue
			}
			label := strconv.FormatFloat(v, 'f', -1, 64)
			if v >= 1000 {
				label = strconv.FormatFloat(v/1000, 'f', -1, 64) + "k"
			}
			ts = append(ts, plot.Tick{Value: v, Label: label})
		}
	}
	return ts
}

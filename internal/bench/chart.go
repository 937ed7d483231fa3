package bench

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// palette gives each strategy a colour that stays the same from chart to chart.
var palette = map[string]color.RGBA{
	"tollgate":              {R: 0x1b, G: 0x5e, B: 0x20, A: 0xff},
	"tollgate-adaptive":     {R: 0x66, G: 0xbb, B: 0x6a, A: 0xff},
	"tollgate-no-rightsize": {R: 0x80, G: 0x80, B: 0x80, A: 0xff},
	"tollgate-told":         {R: 0x5d, G: 0x40, B: 0x37, A: 0xff},
	"sdk-standard":          {R: 0xd3, G: 0x2f, B: 0x2f, A: 0xff},
	"sdk-adaptive":          {R: 0xf5, G: 0x7c, B: 0x00, A: 0xff},
	"rpm-only":              {R: 0x7b, G: 0x1f, B: 0xa2, A: 0xff},
	"dual-bucket":           {R: 0x19, G: 0x76, B: 0xd2, A: 0xff},
	"cookbook":              {R: 0x00, G: 0x96, B: 0x88, A: 0xff},
}

// WriteCharts writes, for every scenario run, a PNG of throughput over time — settled
// quota tokens per minute, in ThroughputBin bins of emulated time — with one line per
// strategy and the TPM quota as a dashed line. It returns the files written, named
// SCENARIO-WINDOW.png.
func (rep *Report) WriteCharts(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: chart: %w", err)
	}
	var files []string
	for _, sr := range rep.Runs {
		p := plot.New()
		p.Title.Text = fmt.Sprintf("%s, %s window: %d calls, TPM quota %d", sr.Scenario, sr.Window, sr.Calls, sr.Quotas.TokensPerMinute)
		p.X.Label.Text = "emulated minutes since the first arrival"
		p.Y.Label.Text = "settled quota tokens per minute (thousands)"
		p.Legend.Top = true
		p.Legend.Left = false
		p.Add(plotter.NewGrid())
		end, top := 0.0, 0.0
		for _, r := range sr.Results {
			if len(r.Throughput) == 0 {
				continue
			}
			pts := make(plotter.XYs, 0, 2*len(r.Throughput))
			for _, pt := range r.Throughput { // steps: each bin's rate over its width
				pts = append(pts, plotter.XY{X: pt.Minute, Y: pt.TokensPerMinute / 1000},
					plotter.XY{X: pt.Minute + ThroughputBin.Minutes(), Y: pt.TokensPerMinute / 1000})
			}
			end = max(end, pts[len(pts)-1].X)
			for _, pt := range pts {
				top = max(top, pt.Y)
			}
			l, err := plotter.NewLine(pts)
			if err != nil {
				return files, fmt.Errorf("bench: chart: %w", err)
			}
			l.Color = palette[r.Strategy]
			l.Width = vg.Points(1.5)
			if r.Strategy == "tollgate" {
				l.Width = vg.Points(3)
			}
			p.Add(l)
			p.Legend.Add(fmt.Sprintf("%s (%.2f)", r.Strategy, r.Efficiency), l)
		}
		q, err := plotter.NewLine(plotter.XYs{{X: 0, Y: float64(sr.Quotas.TokensPerMinute) / 1000}, {X: end, Y: float64(sr.Quotas.TokensPerMinute) / 1000}})
		if err != nil {
			return files, fmt.Errorf("bench: chart: %w", err)
		}
		q.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
		q.Color = color.Black
		p.Add(q)
		p.Legend.Add("TPM quota", q)
		p.Legend.ThumbnailWidth = vg.Points(20)
		p.Legend.TextStyle.Font.Size = vg.Points(10)
		p.Title.Padding = vg.Points(8)
		p.Title.TextStyle.Font.Size = vg.Points(13)
		p.Y.Min, p.X.Min = 0, 0
		// Room for the legend above the lines, and for the highest line (a greedy client
		// spending a full bucket) below the top.
		p.Y.Max = max(1.6*float64(sr.Quotas.TokensPerMinute)/1000, 1.1*top)
		p.X.Max = end * 1.03
		name := filepath.Join(dir, fmt.Sprintf("%s-%s.png", sr.Scenario, sr.Window))
		if err := p.Save(10*vg.Inch, 5.5*vg.Inch, name); err != nil {
			return files, fmt.Errorf("bench: chart: %w", err)
		}
		files = append(files, name)
	}
	return files, nil
}

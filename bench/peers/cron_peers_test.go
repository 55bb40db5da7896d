// Peer benchmarks for cron next(): robfig/cron v3 and gorhill/cronexpr, from
// Debian's golang-github-robfig-cron-dev and golang-github-gorhill-cronexpr-dev
// (GOPATH mode over /usr/share/gocode; scripts/bench.sh runs it). Each case of
// cron_cases.tsv walks the fire sequence as bench/cron_bench.cc does: every
// call asks for the fire after the previous one, restarting after four years.
// A case a library cannot parse prints "unsupported".
package cronpeers

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorhill/cronexpr"
	"github.com/robfig/cron"
)

type cronCase struct {
	name, expr, zone string
	start            int64
}

func loadCases(b *testing.B) []cronCase {
	f, err := os.Open("cron_cases.tsv")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var cases []cronCase
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := strings.Split(line, "\t")
		start, err := strconv.ParseInt(p[3], 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		cases = append(cases, cronCase{p[0], p[1], p[2], start})
	}
	return cases
}

// walk times next() along the fire sequence from `start`.
func walk(b *testing.B, start time.Time, next func(time.Time) time.Time) {
	limit := start.AddDate(4, 0, 0)
	t := start
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t = next(t)
		if t.IsZero() || t.After(limit) {
			t = start
		}
	}
}

func BenchmarkNext(b *testing.B) {
	seconds := cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month |
		cron.Dow | cron.Descriptor)
	for _, c := range loadCases(b) {
		loc, err := time.LoadLocation(c.zone)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Unix(c.start, 0).In(loc)
		b.Run("robfig/"+c.name, func(b *testing.B) {
			var sched cron.Schedule
			if len(strings.Fields(c.expr)) == 6 {
				sched, err = seconds.Parse(c.expr)
			} else {
				sched, err = cron.ParseStandard(c.expr)
			}
			if err != nil {
				fmt.Printf("UNSUPPORTED robfig/%s: %v\n", c.name, err)
				b.SkipNow()
			}
			walk(b, start, sched.Next)
		})
		b.Run("gorhill/"+c.name, func(b *testing.B) {
			expr := c.expr
			// Its six-field form is minute..year; seconds need all seven.
			if len(strings.Fields(expr)) == 6 {
				expr += " *"
			}
			e, err := cronexpr.Parse(expr)
			if err != nil || strings.HasPrefix(expr, "@every") {
				fmt.Printf("UNSUPPORTED gorhill/%s: %v\n", c.name, err)
				b.SkipNow()
			}
			walk(b, start, e.Next)
		})
	}
}

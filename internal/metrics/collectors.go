package metrics

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/paysync/paysync"
)

var (
	queueTasks = prometheus.NewDesc("paysync_queue_tasks", "Tasks in each asynq queue by state.",
		[]string{"queue", "state"}, nil)
	queueLatency = prometheus.NewDesc("paysync_queue_latency_seconds", "Age of the oldest pending task of each asynq queue.",
		[]string{"queue"}, nil)
	queueProcessed = prometheus.NewDesc("paysync_queue_processed_today", "Tasks each asynq queue processed today (UTC), and failed.",
		[]string{"queue", "result"}, nil)
	runCounts = prometheus.NewDesc("paysync_sync_run_customers", "Counts of each running or paused sync run.",
		[]string{"run_id", "mode", "count"}, nil)
	runRate = prometheus.NewDesc("paysync_sync_run_rate_per_second", "Customers per second of each running sync run.",
		[]string{"run_id", "mode"}, nil)
)

// queueCollector reads asynq's queue statistics at scrape time, as asynq's
// own x/metrics exporter does.
type queueCollector struct {
	inspector *asynq.Inspector
	only      map[string]bool // nil: every queue
}

// QueueCollector exports the sizes, latency and daily counts of the named
// queues (all of Redis's when none is named: deployments sharing a Redis
// name theirs apart). It reads the inspector's Redis at scrape time, so it
// belongs to the handler of the App that owns that connection, not to the
// process-wide Registry.
func QueueCollector(inspector *asynq.Inspector, queues ...string) prometheus.Collector {
	c := queueCollector{inspector: inspector}
	if len(queues) > 0 {
		c.only = map[string]bool{}
		for _, q := range queues {
			c.only[q] = true
		}
	}
	return c
}

func (c queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueTasks
	ch <- queueLatency
	ch <- queueProcessed
}

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	queues, err := c.inspector.Queues()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueTasks, err)
		return
	}
	for _, q := range queues {
		if c.only != nil && !c.only[q] {
			continue
		}
		info, err := c.inspector.GetQueueInfo(q)
		if err != nil {
			continue // deleted in between
		}
		for state, n := range map[string]int{"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled,
			"retry": info.Retry, "archived": info.Archived, "completed": info.Completed} {
			ch <- prometheus.MustNewConstMetric(queueTasks, prometheus.GaugeValue, float64(n), q, state)
		}
		ch <- prometheus.MustNewConstMetric(queueLatency, prometheus.GaugeValue, info.Latency.Seconds(), q)
		ch <- prometheus.MustNewConstMetric(queueProcessed, prometheus.GaugeValue, float64(info.Processed), q, "processed")
		ch <- prometheus.MustNewConstMetric(queueProcessed, prometheus.GaugeValue, float64(info.Failed), q, "failed")
	}
}

// RunLister is what the sync run collector reads.
type RunLister interface {
	RunningSyncRuns(ctx context.Context) ([]*paysync.SyncRun, error)
}

type runCollector struct{ runs RunLister }

// SyncRunCollector exports the progress of every running sync run: the
// same counts and rate that GET /api/v1/sync_runs/{id} answers. Like
// QueueCollector it reads one App's store at scrape time.
func SyncRunCollector(runs RunLister) prometheus.Collector { return runCollector{runs} }

func (c runCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- runCounts
	ch <- runRate
}

func (c runCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	runs, err := c.runs.RunningSyncRuns(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(runCounts, err)
		return
	}
	now := time.Now()
	for _, r := range runs {
		id, mode := r.ID, string(r.Mode)
		for name, n := range map[string]int{"total": r.Total, "done": r.Done, "synced": r.Synced, "failed": r.Failed,
			"skipped": r.Skipped, "in_flight": r.InFlight} {
			ch <- prometheus.MustNewConstMetric(runCounts, prometheus.GaugeValue, float64(n), id, mode, name)
		}
		ch <- prometheus.MustNewConstMetric(runRate, prometheus.GaugeValue, r.Rate(now), id, mode)
	}
}

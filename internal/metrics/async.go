package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paddockhq/paddock/internal/async"
)

// Async is the asynchronous invokes: this server's workers and the queue
// they share.
type Async interface {
	Counts() async.Counts
	Backlog(ctx context.Context) (events uint64, oldest time.Duration, err error)
}

type asyncCollector struct {
	src                                 Async
	received, delivered, retried, given *prometheus.Desc
	destFailures, backlog, age          *prometheus.Desc
}

func newAsyncCollector(src Async) *asyncCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &asyncCollector{
		src:          src,
		received:     d("paddock_async_events_received_total", "Asynchronous invokes this server stored and answered 202 (AsyncEventsReceived)."),
		delivered:    d("paddock_async_events_delivered_total", "Asynchronous events this server's workers ran without a function error."),
		retried:      d("paddock_async_events_retried_total", "Deliveries this server's workers will try again: function_error (a retry of MaximumRetryAttempts, after 1 and 2 minutes) or throttled (no capacity or not run; backoff from 1 s to 5 min).", "reason"),
		given:        d("paddock_async_events_dropped_total", "Asynchronous events given up by this server's workers (AsyncEventsDropped): event_age (older than MaximumEventAgeInSeconds), retries (failed 1 + MaximumRetryAttempts times) or function_gone (deleted, or unreadable); the OnFailure record goes out for the first two.", "reason"),
		destFailures: d("paddock_async_destination_delivery_failures_total", "Invocation records this server could not send to their destination (DestinationDeliveryFailures)."),
		backlog:      d("paddock_async_backlog_events", "Asynchronous events stored and not yet done with: waiting, being delivered or waiting for a retry (all servers)."),
		age:          d("paddock_async_oldest_event_age_seconds", "Age of the oldest asynchronous event stored (AsyncEventAge's maximum; 0 when none)."),
	}
}

func (c *asyncCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.received, c.delivered, c.retried, c.given, c.destFailures, c.backlog, c.age} {
		ch <- d
	}
}

func (c *asyncCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.src.Counts()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.received, n.Received)
	counter(c.delivered, n.Delivered)
	counter(c.retried, n.Retried, "function_error")
	counter(c.retried, n.Throttled, "throttled")
	counter(c.given, n.TooOld, "event_age")
	counter(c.given, n.OutOfRetries, "retries")
	counter(c.given, n.Dropped, "function_gone")
	counter(c.destFailures, n.DestinationFailures)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	events, oldest, err := c.src.Backlog(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.backlog, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(events))
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, oldest.Seconds())
}

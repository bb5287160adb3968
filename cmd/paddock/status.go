package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/lambdaapi"
	"github.com/paddockhq/paddock/internal/scaler"
)

const statusPath = "/paddock/v1/status"

func statusCommand() *cobra.Command {
	var asJSON, watch bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show capacity providers, instances, function versions and what the scaler will do next",
		Long: `Show the fleet of a running Paddock as its scaler last measured it (once a second):

  - each capacity provider: architecture, scaling mode and target, and the vCPUs
    its instances have allocated to execution environments (EEs) and still have
    free;
  - each of its instances: type, state, EEs, vCPU and memory allocated/available,
    and CPU use as a share of the instance's allocatable vCPUs;
  - each published function version: its EEs (ready/desired), concurrency in
    use and its limit (ready EEs x PerExecutionEnvironmentMaxConcurrency), CPU
    and memory use as a share of what its EEs were given, the invokes throttled
    in the last minute by cause (concurrency, cpu, memory), and NEXT: how many
    EEs the scaler wants and why.

The request is signed (SigV4) like any AWS CLI call, with AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY (paddock up prints the pair) or the --profile given.
--json prints the API's answer (GET /paddock/v1/status) as it is, indented.`,
		Example: `  # Once, against the local Paddock
  export AWS_ACCESS_KEY_ID=AKIDPADDOCKEXAMPLE AWS_SECRET_ACCESS_KEY=paddock-example-secret
  paddock status

  # Redraw every 2 seconds while a load test runs; Ctrl-C to stop
  paddock status --watch

  # For scripts: the concurrency in use of every version
  paddock status --json | jq '.versions[] | {key, concurrencyInUse, concurrencyLimit}'

  # Another Paddock, with keys from a profile
  paddock status --endpoint https://paddock.internal:9400 --profile paddock`,
		Args: cobra.NoArgs,
		// main prints the error, prefixed with "paddock:"; cobra's own
		// "Error: ..." line would say it twice.
		SilenceErrors: true,
	}
	client := addClientFlags(cmd)
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the API's JSON answer instead of tables")
	f.BoolVarP(&watch, "watch", "w", false, "redraw until Ctrl-C")
	f.DurationVar(&interval, "interval", 2*time.Second, "time between redraws with --watch")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		c, err := client.client(ctx)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if !watch {
			page, err := statusPage(ctx, c, asJSON)
			if err != nil {
				return err
			}
			_, err = out.Write(page)
			return err
		}
		if interval < 100*time.Millisecond {
			return fmt.Errorf("--interval %v is too short: the scaler measures once a second", interval)
		}
		return watchStatus(ctx, c, asJSON, interval, out)
	}
	return cmd
}

// watchStatus redraws the status until ctx ends. A Paddock that goes away
// (restarting, say) is shown as such and polled again, since watching a
// restart is one reason to watch; any other error ends the watch.
func watchStatus(ctx context.Context, c *apiClient, asJSON bool, interval time.Duration, out io.Writer) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		page, err := statusPage(ctx, c, asJSON)
		if ctx.Err() != nil {
			return nil // Ctrl-C is how a watch ends
		}
		var down *noPaddockError
		if err != nil && !errors.As(err, &down) {
			return err
		}
		if err != nil {
			page = []byte(err.Error() + "\n")
		}
		var buf bytes.Buffer
		if !asJSON {
			// Home and clear, then the whole page in one write, so a
			// terminal never shows half a redraw.
			fmt.Fprintf(&buf, "\x1b[H\x1b[2J")
			fmt.Fprintf(&buf, "paddock status: %s every %v, %s (Ctrl-C to stop)\n\n",
				c.endpoint, interval, time.Now().Format("15:04:05"))
		}
		buf.Write(page)
		if _, err := out.Write(buf.Bytes()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// statusPage fetches the status and renders it: the JSON indented, or the
// tables.
func statusPage(ctx context.Context, c *apiClient, asJSON bool) ([]byte, error) {
	var buf bytes.Buffer
	if asJSON {
		body, err := c.get(ctx, statusPath)
		if err != nil {
			return nil, err
		}
		// Indent the bytes rather than re-encode a decoded struct, so fields
		// a newer Paddock adds still reach scripts.
		if err := json.Indent(&buf, body, "", "  "); err != nil {
			return nil, fmt.Errorf("%s%s answered with invalid JSON: %w", c.endpoint, statusPath, err)
		}
		buf.WriteByte('\n')
		return buf.Bytes(), nil
	}
	var st lambdaapi.StatusResponse
	if err := c.getJSON(ctx, statusPath, &st); err != nil {
		return nil, err
	}
	renderStatus(&buf, st)
	return buf.Bytes(), nil
}

// renderStatus writes the human form: one block per capacity provider with
// its instances, then one table of function versions.
func renderStatus(w io.Writer, st lambdaapi.StatusResponse) {
	if c := st.Cluster; c != nil {
		renderCluster(w, *c)
		fmt.Fprintln(w)
		if c.Leader == "" {
			fmt.Fprintf(w, "No server leads right now: the fleet below is %s's last view.\n\n", c.This)
		}
	}
	if len(st.CapacityProviders) == 0 {
		fmt.Fprintln(w, "No capacity providers yet: create one with `aws lambda create-capacity-provider` (see the README's quickstart).")
	}
	for _, cp := range st.CapacityProviders {
		renderCapacityProvider(w, cp)
		fmt.Fprintln(w)
	}
	if len(st.Versions) == 0 {
		if len(st.CapacityProviders) > 0 {
			fmt.Fprintln(w, "No published function versions: publish one with `aws lambda publish-version`.")
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FUNCTION:VERSION\tCAPACITY PROVIDER\tSTATE\tEES READY/DESIRED\tCONCURRENCY\tCPU\tMEM\tTHROTTLES 1m\tNEXT")
	for _, v := range st.Versions {
		ees := fmt.Sprintf("%d/%d", v.Ready, v.Desired)
		if v.Live != v.Ready {
			// EEs that exist but are not ready are starting (or failing to).
			ees += fmt.Sprintf(" (%d starting)", v.Live-v.Ready)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\n",
			versionName(v), v.CapacityProvider, v.State, ees, v.InFlight, v.Limit,
			percent(v.CPUPercent), percent(v.MemoryPercent), throttles(v.ThrottlesMinute), next(v))
	}
	tw.Flush() //nolint:errcheck // w is a bytes.Buffer or the terminal; a failed write shows
}

// renderCluster writes the servers (the leader marked) and the joined
// hosts with the age of their last heartbeat as this server saw it.
func renderCluster(w io.Writer, c lambdaapi.ClusterStatus) {
	leader := c.Leader
	if leader == "" {
		leader = "none (an election is under way)"
	}
	fmt.Fprintf(w, "Servers: %d, leader %s (the fleet's view is the leader's: followers pass status on to it)\n", len(c.Servers), leader)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  NODE\tAPI\tROLE\tUP")
	for _, s := range c.Servers {
		role := "follower"
		if s.Leader {
			role = "leader *"
		}
		if s.URL == c.This {
			role += " (this one)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", s.Node, s.URL, role, time.Since(s.Started).Round(time.Second))
	}
	tw.Flush() //nolint:errcheck // as in renderStatus
	if len(c.Hosts) == 0 {
		fmt.Fprintln(w, "Hosts: none joined yet: start `paddock agent --join ...` on each instance (see `paddock server --help`)")
		return
	}
	fmt.Fprintf(w, "Hosts: %d\n", len(c.Hosts))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ID\tTYPE\tARCH\tPROVIDER\tADDRESS\tINSTANCE\tHEARTBEAT\tEES (ROUTED HERE)")
	for _, h := range c.Hosts {
		inst := h.Instance
		if inst == "" {
			inst = "-"
		}
		beat := fmt.Sprintf("%.1fs ago", h.HeartbeatAgeSecs)
		if h.HeartbeatAgeSecs >= 3 {
			beat += " (silent)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%d (%d)\n", h.ID, h.Type, h.Arch, h.Provider, h.Address, inst, beat, h.EEs, h.Routed)
	}
	tw.Flush() //nolint:errcheck // as in renderStatus
}

func renderCapacityProvider(w io.Writer, cp lambdaapi.CapacityProviderStatus) {
	n := len(cp.Instances)
	plural := "s"
	if n == 1 {
		plural = ""
	}
	if cp.State == lambdaapi.StateDeleted {
		fmt.Fprintf(w, "Capacity provider %s (deleted): %d instance%s left to terminate\n", cp.Name, n, plural)
	} else {
		scaling := cp.ScalingMode + " scaling"
		if cp.TargetPercent > 0 {
			scaling += fmt.Sprintf(" at %s CPU", percent(cp.TargetPercent))
		}
		fmt.Fprintf(w, "Capacity provider %s (%s, %s): %s, max %d vCPU; %d instance%s, vCPU %s allocated / %s available, memory %d / %d MiB\n",
			cp.Name, cp.Architecture, cp.State, scaling, cp.MaxVCPUCount, n, plural,
			vcpu(cp.VCPUAllocated), vcpu(cp.VCPUAvailable), cp.MemoryAllocatedMiB, cp.MemoryAvailableMiB)
	}
	if n == 0 {
		fmt.Fprintln(w, "  no instances: they launch when a version on this capacity provider is published")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ID\tTYPE\tSTATE\tEES\tVCPU ALLOC/AVAIL\tMEM MiB ALLOC/AVAIL\tCPU")
	for _, in := range cp.Instances {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s/%s\t%d/%d\t%s\n",
			in.ID, in.Type, in.State, in.EEs, vcpu(in.VCPUAllocated), vcpu(in.VCPUAvailable),
			in.MemoryAllocatedMiB, in.MemoryAvailableMiB, bar(in.CPUPercent))
	}
	tw.Flush() //nolint:errcheck // as in renderStatus
}

func versionName(v scaler.VersionStatus) string {
	if v.Key != "" {
		return v.Key
	}
	return v.Function + ":" + strconv.Itoa(v.Version)
}

// vcpu prints vCPUs with at most two decimals and no trailing zeros.
func vcpu(x float64) string {
	return strconv.FormatFloat(math.Round(x*100)/100, 'f', -1, 64)
}

func percent(p float64) string { return fmt.Sprintf("%.0f%%", p) }

// bar draws p (0-100) as ten cells: `[#####.....] 52%`. The number stays
// exact when the bar is clamped (a version can use more than it was given).
func bar(p float64) string {
	filled := int(math.Round(math.Max(0, math.Min(100, p)) / 10))
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", 10-filled) + "] " + percent(p)
}

// throttles prints the last minute's throttles: the total, and by cause
// when there were any ("12 (concurrency 9, cpu 3)").
func throttles(byCause map[string]int) string {
	total := 0
	causes := make([]string, 0, len(byCause))
	for c, n := range byCause {
		if n > 0 {
			total += n
			causes = append(causes, c)
		}
	}
	if total == 0 {
		return "0"
	}
	sort.Strings(causes)
	parts := make([]string, len(causes))
	for i, c := range causes {
		parts[i] = fmt.Sprintf("%s %d", c, byCause[c])
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

func next(v scaler.VersionStatus) string {
	if v.Why == "" {
		return fmt.Sprintf("desired %d", v.Desired)
	}
	return fmt.Sprintf("desired %d: %s", v.Desired, v.Why)
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/billing"
)

const costPath = "/paddock/v1/cost"

func costCommand() *cobra.Command {
	var since string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "cost",
		Short: "Show what AWS Lambda would have billed for the traffic Paddock served, in both modes",
		Long: `Show the bill of a period, priced at AWS Lambda's list prices (us-east-1), as
Paddock measured it:

  - each function in its own mode:
      default mode: requests ($0.20 per 1M) + duration (billed ms, rounded up
        per invoke, x memory, per GB-second; arm64 is cheaper than x86_64);
      Lambda Managed Instances (LMI): requests + its share of the capacity
        provider's instances (EC2 on-demand price, less the savings plan) + a
        management fee of 15% of their on-demand price; no duration charge.
        Invokes a burst overflowed to default-mode EEs (tag
        paddock:overflow=on-demand) are billed by the GB-second (OVERFLOW);
  - OTHER MODE: what the same traffic would have cost in the other mode, and a
    verdict. For an LMI function it is exact (its invokes by the GB-second);
    for a default-mode function it is an estimate of the EEs and instances LMI
    would keep for the traffic's average concurrency (printed under the totals);
  - each capacity provider: instance-hours and cost by instance type. Its cost
    is split among its functions by the vCPU-seconds their EEs were allocated;
    with no function on it, the cost is shown as idle;
  - the totals, and the source and date of every price.

The savings plan (a discount on LMI instances, not on the fee) is a setting of
the server: paddock up --savings-plan 0.3. This command prints what the server
computed. The meters start when Paddock starts, so the period may be shorter
than --since asks; the header says what it covers.

The request is signed (SigV4) like any AWS CLI call, with AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY (paddock up prints the pair) or the --profile given.
--json prints the API's answer (GET /paddock/v1/cost?since=) as it is, indented.`,
		Example: `  # The last 24 hours, against the local Paddock
  export AWS_ACCESS_KEY_ID=AKIDPADDOCKEXAMPLE AWS_SECRET_ACCESS_KEY=paddock-example-secret
  paddock cost

  # The last hour, or since a given time
  paddock cost --since 1h
  paddock cost --since 7d
  paddock cost --since 2026-01-02T09:00:00Z

  # For scripts: each function's total and the other mode's
  paddock cost --json | jq '.functions[] | {function, mode, total, other: .otherMode.total, verdict}'`,
		Args:          cobra.NoArgs,
		SilenceErrors: true, // main prints the error once, prefixed with "paddock:"
	}
	client := addClientFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&since, "since", "24h", "start of the period: a duration back from now (1h, 168h, 7d) or an RFC 3339 time")
	f.BoolVar(&asJSON, "json", false, "print the API's JSON answer instead of tables")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		c, err := client.client(ctx)
		if err != nil {
			return err
		}
		path := costPath + "?since=" + url.QueryEscape(since)
		out := cmd.OutOrStdout()
		if asJSON {
			body, err := c.get(ctx, path)
			if err != nil {
				return err
			}
			// Indent the bytes rather than re-encode a decoded Bill, so
			// fields a newer Paddock adds still reach scripts.
			var buf bytes.Buffer
			if err := json.Indent(&buf, body, "", "  "); err != nil {
				return fmt.Errorf("%s%s answered with invalid JSON: %w", c.endpoint, costPath, err)
			}
			buf.WriteByte('\n')
			_, err = out.Write(buf.Bytes())
			return err
		}
		var b billing.Bill
		if err := c.getJSON(ctx, path, &b); err != nil {
			return err
		}
		var buf bytes.Buffer
		renderCost(&buf, b)
		_, err = out.Write(buf.Bytes())
		return err
	}
	return cmd
}

// renderCost writes the human form of a bill: functions, capacity
// providers, totals, how the other-mode figures were estimated, and the
// prices with their sources.
func renderCost(w io.Writer, b billing.Bill) {
	fmt.Fprintf(w, "Bill from %s to %s (%s), at AWS list prices\n\n",
		b.Since.UTC().Format("2006-01-02 15:04:05"), b.Until.UTC().Format("2006-01-02 15:04:05 UTC"),
		time.Duration(b.PeriodSeconds*float64(time.Second)).Round(time.Second))

	if len(b.Functions) == 0 {
		fmt.Fprintln(w, "No function ran in this period.")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "FUNCTION\tMODE\tREQUESTS\tOVERFLOWED\tBILLED\tREQUESTS $\tDURATION $\tINSTANCES $\tFEE $\tOVERFLOW $\tTOTAL $\tOTHER MODE $\tVERDICT")
		for _, f := range b.Functions {
			mode := f.Mode
			if f.Mode == billing.ModeLMI {
				mode = "lmi on " + f.CapacityProvider
			}
			// "-" marks a charge the mode does not have, so a 0.0000 always
			// means "charged, but less than a hundredth of a cent".
			lmi := f.Mode == billing.ModeLMI
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
				f.Function, mode, thousands(f.Requests), only(lmi, thousands(f.OverflowRequests)), billedTime(f.BilledMs),
				usd(f.RequestCost), only(!lmi, usd(f.DurationCost)), only(lmi, usd(f.InstanceCost)), only(lmi, usd(f.FeeCost)),
				only(lmi, usd(f.OverflowCost)), usd(f.Total), usd(f.OtherMode.Total), f.Verdict)
		}
		tw.Flush() //nolint:errcheck // w is a bytes.Buffer
	}

	for _, cp := range b.CapacityProviders {
		fmt.Fprintln(w)
		renderCapacityProviderCost(w, cp)
	}

	t := b.Totals
	fmt.Fprintf(w, "\nTotal $%s = requests $%s + duration $%s + instances $%s + fee $%s + overflow $%s\n",
		usd(t.Total), usd(t.RequestCost), usd(t.DurationCost), usd(t.InstanceCost), usd(t.FeeCost), usd(t.OverflowCost))
	fmt.Fprintf(w, "  LMI formula (requests + instances + %g%% fee, overflow by the GB-second): $%s",
		b.Prices.ManagementFee*100, usd(t.LMI))
	if t.IdleCost > 0 {
		fmt.Fprintf(w, ", of which idle capacity providers $%s", usd(t.IdleCost))
	}
	fmt.Fprintf(w, "\n  default formula (requests + GB-seconds): $%s\n", usd(t.Default))
	if t.SavingsPlan > 0 {
		fmt.Fprintf(w, "  savings plan: instances $%s on demand, $%s after %g%% off (the fee stays on the on-demand price)\n",
			usd(t.OnDemandCost), usd(t.InstanceCost), b.Prices.SavingsPlanDiscount*100)
	}
	if t.OverflowRequests > 0 {
		fmt.Fprintf(w, "  %s of %s invokes overflowed to default-mode EEs\n", thousands(t.OverflowRequests), thousands(t.Requests))
	}

	if len(b.Functions) > 0 {
		fmt.Fprintln(w, "\nOther mode, how each figure was made:")
		for _, f := range b.Functions {
			fmt.Fprintf(w, "  %s: %s\n", f.Function, f.OtherMode.Basis)
		}
	}
	if len(b.Notes) > 0 {
		fmt.Fprintln(w, "\nNot billed:")
		for _, n := range b.Notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
	fmt.Fprintln(w, "\nPrices:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, q := range b.PriceList {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", q.Item, q.Price, q.Source)
	}
	tw.Flush() //nolint:errcheck // as above
}

func renderCapacityProviderCost(w io.Writer, cp billing.CapacityProviderLine) {
	who := "split among " + strings.Join(cp.Functions, ", ") + " by allocated vCPU-seconds"
	if cp.VCPUSeconds <= 0 {
		who = "no function had an EE on it: all of it is idle"
	}
	fmt.Fprintf(w, "Capacity provider %s (%s): $%s, %s\n", cp.Name, cp.Arch, usd(cp.Total), who)
	if len(cp.Instances) == 0 {
		fmt.Fprintln(w, "  no instances ran in this period")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  INSTANCE TYPE\t$/HOUR\tINSTANCE-HOURS\tON-DEMAND $\tSAVINGS PLAN $\tINSTANCES $\tFEE $\tTOTAL $")
	for _, in := range cp.Instances {
		price := strconv.FormatFloat(in.PricePerHour, 'f', -1, 64)
		if in.Unpriced {
			price = "unknown"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\n",
			in.Type, price, in.InstanceSeconds/3600, usd(in.OnDemandCost), usd(-in.SavingsPlan),
			usd(in.InstanceCost), usd(in.FeeCost), usd(in.InstanceCost+in.FeeCost))
	}
	if len(cp.Instances) > 1 {
		fmt.Fprintf(tw, "  all\t\t%.2f\t%s\t%s\t%s\t%s\t%s\n",
			cp.InstanceSeconds/3600, usd(cp.OnDemandCost), usd(-cp.SavingsPlan), usd(cp.InstanceCost), usd(cp.FeeCost), usd(cp.Total))
	}
	tw.Flush() //nolint:errcheck // as in renderCost
}

// usd prints dollars to a hundredth of a cent: Paddock periods are often
// hours, whose costs are cents. -0 prints as 0.
func usd(x float64) string {
	s := strconv.FormatFloat(x, 'f', 4, 64)
	if s == "-0.0000" {
		return "0.0000"
	}
	return s
}

// only returns s where the charge applies to the mode, else "-".
func only(applies bool, s string) string {
	if applies {
		return s
	}
	return "-"
}

// billedTime prints the billed duration summed over invokes in seconds,
// the unit of the GB-second: "4,800,000s", or "350ms" below a second.
func billedTime(ms int64) string {
	if ms < 1000 {
		return strconv.FormatInt(ms, 10) + "ms"
	}
	return thousands((ms+500)/1000) + "s"
}

// thousands prints n with comma separators: 1,000,000.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

package billing

import (
	"fmt"

	"github.com/paddockhq/paddock/internal/fleet"
)

// Lambda's published prices. Paddock bills what AWS would: these are the
// us-east-1 list prices, without the free tier (a self-hosted fleet has no
// free tier to spend) and without volume tiers (the GB-second prices are
// the first tier, the first 6 billion GB-seconds of a month, which is as
// far as a Paddock fleet goes).
const (
	// LambdaPriceSource and LambdaPriceDate cite every constant below.
	LambdaPriceSource = "AWS Lambda pricing page (aws.amazon.com/lambda/pricing), us-east-1"
	LambdaPriceDate   = "2025"

	// RequestPerMillion is the request charge of both modes, USD per
	// million requests (AWS Lambda pricing page, us-east-1, 2025).
	RequestPerMillion = 0.20
	// GBSecondX86 and GBSecondARM are the default (on-demand) mode's
	// duration charge, USD per GB-second, first tier (AWS Lambda pricing
	// page, us-east-1, 2025).
	GBSecondX86 = 0.0000166667
	GBSecondARM = 0.0000133334
	// ManagementFee is Lambda Managed Instances' management fee, a fraction
	// of the EC2 on-demand price of the instances, charged on top of the
	// instances and never reduced by a savings plan (AWS Lambda pricing
	// page, Lambda Managed Instances section, us-east-1, 2025).
	ManagementFee = 0.15
)

// Prices are the rates a bill is computed with. DefaultPrices gives AWS's;
// an operator changes only SavingsPlanDiscount (paddock up --savings-plan).
type Prices struct {
	RequestPerMillion float64 `json:"requestPerMillion"` // USD per 1M requests, both modes
	GBSecondX86       float64 `json:"gbSecondX86"`       // USD per GB-second, default mode, x86_64
	GBSecondARM       float64 `json:"gbSecondArm"`       // USD per GB-second, default mode, arm64
	ManagementFee     float64 `json:"managementFee"`     // LMI fee, fraction of the instances' on-demand price
	// SavingsPlanDiscount (0..1) is what a Compute Savings Plan or
	// Reserved Instances take off the LMI instance price. It applies to
	// the instances only: the management fee is charged on the on-demand
	// price whatever the instances cost you, and requests are not EC2.
	SavingsPlanDiscount float64 `json:"savingsPlanDiscount"`
	// Source and Date cite the Lambda prices; InstanceSource the EC2
	// on-demand prices of the instance catalog (internal/fleet).
	Source         string `json:"source"`
	Date           string `json:"date"`
	InstanceSource string `json:"instanceSource"`
}

// DefaultPrices returns AWS's us-east-1 list prices and no savings plan.
func DefaultPrices() Prices {
	return Prices{
		RequestPerMillion: RequestPerMillion,
		GBSecondX86:       GBSecondX86,
		GBSecondARM:       GBSecondARM,
		ManagementFee:     ManagementFee,
		Source:            LambdaPriceSource,
		Date:              LambdaPriceDate,
		InstanceSource:    fleet.PriceSource,
	}
}

// Validate rejects prices a bill cannot be made from; `paddock up` calls it
// on its flags so a typo (--savings-plan 30 for 30%) fails at start rather
// than as a negative bill.
func (p Prices) Validate() error {
	if p.SavingsPlanDiscount < 0 || p.SavingsPlanDiscount > 1 {
		return fmt.Errorf("savings plan discount %v is not a fraction between 0 and 1 (0.3 is 30%%)", p.SavingsPlanDiscount)
	}
	for name, v := range map[string]float64{
		"request price": p.RequestPerMillion, "x86_64 GB-second price": p.GBSecondX86,
		"arm64 GB-second price": p.GBSecondARM, "management fee": p.ManagementFee,
	} {
		if v < 0 {
			return fmt.Errorf("%s %v is negative", name, v)
		}
	}
	return nil
}

// GBSecond is the default mode's duration price for arch. Lambda's default
// architecture is x86_64, so an empty arch is x86_64.
func (p Prices) GBSecond(arch string) float64 {
	if arch == fleet.ArchARM64 {
		return p.GBSecondARM
	}
	return p.GBSecondX86
}

// PriceQuote is one line of the price list printed under a bill, so every
// figure of the bill can be traced to a published price.
type PriceQuote struct {
	Item   string `json:"item"`   // "requests (both modes)"
	Price  string `json:"price"`  // "$0.20 per 1M requests"
	Source string `json:"source"` // where the price comes from, with its date
}

// quotes lists the prices p holds, each with its source and date.
func (p Prices) quotes() []PriceQuote {
	lambda := p.Source
	if p.Date != "" {
		lambda += ", " + p.Date
	}
	q := []PriceQuote{
		{"requests (both modes)", fmt.Sprintf("$%.2f per 1M requests", p.RequestPerMillion), lambda},
		{"duration, default mode, x86_64", fmt.Sprintf("$%.10f per GB-second", p.GBSecondX86), lambda},
		{"duration, default mode, arm64", fmt.Sprintf("$%.10f per GB-second", p.GBSecondARM), lambda},
		{"LMI management fee", fmt.Sprintf("%g%% of the instances' on-demand price", p.ManagementFee*100), lambda},
		{"LMI instances", "EC2 on-demand price of each instance type", p.InstanceSource},
	}
	if p.SavingsPlanDiscount > 0 {
		q = append(q, PriceQuote{"savings plan", fmt.Sprintf("%g%% off LMI instances (not the fee)", p.SavingsPlanDiscount*100),
			"set by the operator (paddock up --savings-plan)"})
	}
	return q
}

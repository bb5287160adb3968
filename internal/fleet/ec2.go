package fleet

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// EC2API is the part of the EC2 API the ec2 provider calls (an
// *ec2.Client).
type EC2API interface {
	RunInstances(ctx context.Context, in *ec2.RunInstancesInput, optFns ...func(*ec2.Options)) (*ec2.RunInstancesOutput, error)
	TerminateInstances(ctx context.Context, in *ec2.TerminateInstancesInput, optFns ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error)
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error)
}

// Defaults of EC2Config.
const (
	DefaultAgentPath        = "/usr/local/bin/paddock"
	DefaultEC2LaunchTimeout = 10 * time.Minute
	// AgentPort is the invoke port the agents of EC2 instances listen on.
	AgentPort = 9402
)

// Tags the ec2 provider puts on the instances it launches.
const (
	TagInstance         = "paddock:instance"          // the scaler's instance id
	TagCapacityProvider = "paddock:capacity-provider" // the capacity provider's name
	TagCluster          = "paddock:cluster"           // EC2Config.Cluster: whose instance it is
)

// EC2Config configures the ec2 provider.
type EC2Config struct {
	Client EC2API
	// Images are the AMIs instances boot (Amazon Linux 2023 with paddock
	// at AgentPath), at most one per architecture: an instance boots the
	// one of its type's architecture. Which that is, EC2 says
	// (DescribeImages, asked at the first launch).
	Images []string
	// JoinURL is the engine URLs the instances' agents join (comma-separated),
	// as the instances reach them; JoinToken the token they join with.
	JoinURL   string
	JoinToken string
	AgentPath string        // paddock on the instances (default DefaultAgentPath)
	Timeout   time.Duration // how long an instance has to join (default DefaultEC2LaunchTimeout)
	// Cluster names this cluster of servers on its instances (TagCluster),
	// the same on every server and unlike any other's: a new leader
	// terminates the cluster's instances no record accounts for.
	Cluster string
	// Forget, when set, is told the host id of each instance terminated,
	// which no agent will use again (joinauth.Service.Forget).
	Forget func(host string)
	// Network gives a capacity provider's subnets and security groups (its
	// VpcConfig).
	Network func(capacityProvider string) (subnets, securityGroups []string)
}

// EC2 launches instances with RunInstances, whose user data starts an agent
// that joins the engine with the instance's id as its host id, and
// terminates them with TerminateInstances. A launch returns once the
// instance's agent joined; from then on the instance is a joined host of
// the Static it is built on (routes, beats, EEs, adoption by a new leader).
type EC2 struct {
	static *Static // a field, not embedded: EC2 launches any type, it offers no Offer
	cfg    EC2Config
	log    *slog.Logger

	mu     sync.Mutex
	next   map[string]int    // round-robin position over each capacity provider's subnets
	byArch map[string]string // Images by architecture, once EC2 described them
}

// NewEC2 returns the ec2 provider whose instances join s.
func NewEC2(s *Static, cfg EC2Config) *EC2 {
	if cfg.AgentPath == "" {
		cfg.AgentPath = DefaultAgentPath
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultEC2LaunchTimeout
	}
	return &EC2{static: s, cfg: cfg, log: slog.Default().With("role", "fleet", "provider", "ec2"), next: map[string]int{}}
}

// Name is "ec2".
func (e *EC2) Name() string { return "ec2" }

// Arch is empty: EC2 launches either architecture, each instance from the
// image of its type's architecture.
func (e *EC2) Arch() string { return "" }

// Launch runs one instance of type t in the next of the capacity provider's
// subnets and waits for its agent to join. When it does not join within the
// launch timeout, or ctx ends first, the instance is terminated.
func (e *EC2) Launch(ctx context.Context, id string, t InstanceType, cp string, notify func(Event)) (Host, error) {
	image, err := e.image(ctx, t.Arch)
	if err != nil {
		return nil, err
	}
	in := e.runInput(id, image, t, cp)
	out, err := e.cfg.Client.RunInstances(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("RunInstances: %w", err)
	}
	if len(out.Instances) == 0 || aws.ToString(out.Instances[0].InstanceId) == "" {
		return nil, errors.New("RunInstances returned no instance")
	}
	instanceID := aws.ToString(out.Instances[0].InstanceId)
	e.log.Info("instance launched: waiting for its agent to join", "instance", id, "ec2", instanceID, "type", t.Name,
		"capacityProvider", cp, "subnet", aws.ToString(in.SubnetId))
	wctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	h, err := e.static.Await(wctx, instanceID, id, t, cp, notify)
	if err != nil {
		e.terminate(instanceID)
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("EC2 instance %s did not join within %v", instanceID, e.cfg.Timeout)
		}
		return nil, fmt.Errorf("EC2 instance %s: %w", instanceID, err)
	}
	return h, nil
}

// image is the AMI of Images that instances of arch boot. The first call
// asks EC2 the images' architectures; a failed one is asked again next time.
func (e *EC2) image(ctx context.Context, arch string) (string, error) {
	e.mu.Lock()
	byArch := e.byArch
	e.mu.Unlock()
	if byArch == nil {
		out, err := e.cfg.Client.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: e.cfg.Images})
		if err != nil {
			return "", fmt.Errorf("DescribeImages %s: %w", strings.Join(e.cfg.Images, ", "), err)
		}
		if byArch, err = imagesByArch(e.cfg.Images, out.Images); err != nil {
			return "", err
		}
		e.mu.Lock()
		e.byArch = byArch
		e.mu.Unlock()
	}
	id, ok := byArch[arch]
	if !ok {
		return "", fmt.Errorf("no EC2 image for %s instances: give the ec2 provider an %s AMI as well (--ec2-image-id)", arch, arch)
	}
	return id, nil
}

// imagesByArch maps the architectures of the images EC2 described to their
// ids; every image asked for must be among them, one per architecture.
func imagesByArch(asked []string, described []types.Image) (map[string]string, error) {
	byArch := map[string]string{}
	seen := map[string]bool{}
	for _, im := range described {
		id, arch := aws.ToString(im.ImageId), string(im.Architecture)
		switch arch {
		case "x86_64_mac", "arm64_mac":
			return nil, fmt.Errorf("EC2 image %s is for Mac instances (%s), which the ec2 provider does not launch", id, arch)
		case "i386":
			return nil, fmt.Errorf("EC2 image %s is for i386, which no capacity provider runs", id)
		}
		if other, dup := byArch[arch]; dup && other != id {
			return nil, fmt.Errorf("EC2 images %s and %s are both %s: give one image per architecture", other, id, arch)
		}
		byArch[arch] = id
		seen[id] = true
	}
	for _, id := range asked {
		if !seen[id] {
			return nil, fmt.Errorf("EC2 image %s was not found", id)
		}
	}
	return byArch, nil
}

// runInput is the RunInstances request of a launch that boots image.
func (e *EC2) runInput(id, image string, t InstanceType, cp string) *ec2.RunInstancesInput {
	var subnets, groups []string
	if e.cfg.Network != nil {
		subnets, groups = e.cfg.Network(cp)
	}
	in := &ec2.RunInstancesInput{
		ImageId:          aws.String(image),
		InstanceType:     types.InstanceType(t.Name),
		MinCount:         aws.Int32(1),
		MaxCount:         aws.Int32(1),
		ClientToken:      aws.String(id), // a retried request launches no second instance
		SecurityGroupIds: groups,
		UserData:         aws.String(base64.StdEncoding.EncodeToString([]byte(UserData(e.cfg.AgentPath, e.cfg.JoinURL, e.cfg.JoinToken, t.Name)))),
		MetadataOptions:  &types.InstanceMetadataOptionsRequest{HttpTokens: types.HttpTokensStateRequired, HttpEndpoint: types.InstanceMetadataEndpointStateEnabled},
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{
			{Key: aws.String(TagInstance), Value: aws.String(id)},
			{Key: aws.String(TagCapacityProvider), Value: aws.String(cp)},
			{Key: aws.String("Name"), Value: aws.String("paddock-" + cp + "-" + id)},
		}}},
	}
	if e.cfg.Cluster != "" {
		tags := &in.TagSpecifications[0]
		tags.Tags = append(tags.Tags, types.Tag{Key: aws.String(TagCluster), Value: aws.String(e.cfg.Cluster)})
	}
	if len(subnets) > 0 {
		e.mu.Lock()
		n := e.next[cp]
		e.next[cp] = n + 1
		e.mu.Unlock()
		in.SubnetId = aws.String(subnets[n%len(subnets)])
	}
	return in
}

// Terminate takes the EEs off the instance's host and terminates the
// instance.
func (e *EC2) Terminate(h Host) {
	instanceID := h.(*joinedHost).rec.ID
	e.static.Terminate(h)
	e.terminate(instanceID)
	if e.cfg.Forget != nil {
		e.cfg.Forget(instanceID)
	}
}

func (e *EC2) terminate(instanceID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.cfg.Client.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{instanceID}}); err != nil {
		e.log.Error("TerminateInstances", "ec2", instanceID, "err", err)
		return
	}
	e.log.Info("instance terminated", "ec2", instanceID)
}

// Adopt binds the instances the previous leader launched (see
// Static.Adopt), and terminates this cluster's instances that no record
// accounts for: launched by a leader that died before they joined, they
// would run (and bill) for ever.
func (e *EC2) Adopt(ctx context.Context, notify func(Event)) ([]Adopted, error) {
	adopted, err := e.static.Adopt(ctx, notify)
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, a := range adopted {
		keep[a.Instance.Host] = true // the host id of an EC2 instance's agent is its instance id
	}
	if err := e.terminateOrphans(ctx, keep); err != nil {
		e.log.Warn("look for instances no leader accounts for", "err", err)
	}
	return adopted, nil
}

// terminateOrphans terminates the running or pending instances tagged as
// this cluster's whose ids are not in keep.
func (e *EC2) terminateOrphans(ctx context.Context, keep map[string]bool) error {
	if e.cfg.Cluster == "" {
		return nil // nothing tells this cluster's instances from others'
	}
	in := &ec2.DescribeInstancesInput{Filters: []types.Filter{
		{Name: aws.String("tag:" + TagCluster), Values: []string{e.cfg.Cluster}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running"}},
	}}
	for p := ec2.NewDescribeInstancesPaginator(e.cfg.Client, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, r := range page.Reservations {
			for _, inst := range r.Instances {
				id := aws.ToString(inst.InstanceId)
				if id == "" || keep[id] {
					continue
				}
				e.log.Warn("terminating an instance no leader accounts for (launched by one that died before it joined?)", "ec2", id)
				e.terminate(id)
			}
		}
	}
	return nil
}

// Release leaves the instances running for the next leader (see
// Static.Release).
func (e *EC2) Release() { e.static.Release() }

// UserData is the shell script an EC2 instance runs at its first boot
// (cloud-init runs user data that starts with #! as root). It installs
// nothing: the image has paddock at agentPath. It reads the instance's id
// and private address from the instance metadata service (IMDSv2) and
// starts `paddock agent` as a systemd service (restarted if it exits) that
// joins joinURL with token as a host whose id is the instance id, of type
// instanceType, its invoke port at the private address. The token is in
// the user data: whoever may read the instance's attributes can read it.
func UserData(agentPath, joinURL, token, instanceType string) string {
	return `#!/bin/sh
# Paddock agent (written by paddock's ec2 instance provider)
set -eu
m=http://169.254.169.254/latest
t=$(curl -sf --retry 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' $m/api/token)
md() { curl -sf --retry 5 -H "X-aws-ec2-metadata-token: $t" $m/meta-data/$1; }
id=$(md instance-id)
ip=$(md local-ipv4)
systemd-run --unit=paddock-agent -p Restart=always -p RestartSec=2 -p StateDirectory=paddock-agent \
  ` + shellQuote(agentPath) + ` agent --join ` + shellQuote(joinURL) + ` --token ` + shellQuote(token) + ` \
  --id "$id" --instance-type ` + shellQuote(instanceType) + ` \
  --listen 0.0.0.0:` + fmt.Sprint(AgentPort) + ` --advertise "$ip:` + fmt.Sprint(AgentPort) + `" --data-dir /var/lib/paddock-agent
`
}

// shellQuote quotes s for sh, in single quotes.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

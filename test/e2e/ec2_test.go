package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/paddockhq/paddock/internal/fleet"
	"github.com/paddockhq/paddock/internal/joinauth"
	"github.com/paddockhq/paddock/internal/platform"
	"github.com/paddockhq/paddock/internal/testhost"
)

// startMoto runs moto_server on a free port of 127.0.0.1 and returns its
// URL; it skips the test when moto_server is not installed
// (scripts/install-moto.sh installs it). It runs through
// testdata/moto_server.py, which makes SQS receives atomic.
func startMoto(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("moto_server"); err != nil {
		t.Skip("moto_server is not on PATH (scripts/install-moto.sh installs it)")
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not on PATH")
	}
	port := freePort(t, "127.0.0.1")
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command(python, filepath.Join("testdata", "moto_server.py"), "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	startServer(t, "moto_server", cmd, filepath.Join(t.TempDir(), "moto.log"), 30*time.Second, func() error {
		resp, err := http.Get(url + "/moto-api/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	return url
}

// TestEC2ProviderLaunchesAndTerminates: a server whose instances come from
// the ec2 provider, against moto_server. Publishing an LMI version runs
// instances in the capacity provider's subnets (round-robin) with its
// security groups, the instance type placement chose, Paddock's tags and
// user data that starts the agent; moto boots nothing, so for each
// instance an agent joins from a test host as the user data would, with
// the instance's id. The version becomes Active and serves; once the
// version is scaled to 0 and its instances' agents end, they are terminated.
func TestEC2ProviderLaunchesAndTerminates(t *testing.T) {
	motoURL := startMoto(t)
	first := testhost.New(t) // skips the test where the machine cannot make one
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
		"AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	c := ctx(t)
	ec := ec2.New(ec2.Options{BaseEndpoint: aws.String(motoURL), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})

	// The network the capacity provider names, made in moto.
	vpc, err := ec.CreateVpc(c, &ec2.CreateVpcInput{CidrBlock: aws.String("10.9.0.0/16")})
	if err != nil {
		t.Fatalf("CreateVpc: %v", err)
	}
	vpcID := aws.ToString(vpc.Vpc.VpcId)
	var subnets []string
	for i, az := range []string{"us-east-1a", "us-east-1b"} {
		sn, err := ec.CreateSubnet(c, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), CidrBlock: aws.String(fmt.Sprintf("10.9.%d.0/24", i)), AvailabilityZone: aws.String(az)})
		if err != nil {
			t.Fatalf("CreateSubnet: %v", err)
		}
		subnets = append(subnets, aws.ToString(sn.Subnet.SubnetId))
	}
	sg, err := ec.CreateSecurityGroup(c, &ec2.CreateSecurityGroupInput{GroupName: aws.String("paddock-lmi"), Description: aws.String("LMI instances"), VpcId: aws.String(vpcID)})
	if err != nil {
		t.Fatalf("CreateSecurityGroup: %v", err)
	}
	sgID := aws.ToString(sg.GroupId)
	images, err := ec.DescribeImages(c, &ec2.DescribeImagesInput{Filters: []ec2types.Filter{{Name: aws.String("architecture"), Values: []string{"x86_64"}}}})
	if err != nil || len(images.Images) == 0 {
		t.Fatalf("DescribeImages: %v (%d images)", err, len(images.Images))
	}
	imageID := aws.ToString(images.Images[0].ImageId)
	// An arm64 image beside it: the server is given both and launches the
	// x86_64 capacity provider's instances from the x86_64 one.
	armImages, err := ec.DescribeImages(c, &ec2.DescribeImagesInput{Filters: []ec2types.Filter{{Name: aws.String("architecture"), Values: []string{"arm64"}}}})
	if err != nil || len(armImages.Images) == 0 {
		t.Fatalf("DescribeImages arm64: %v (%d images)", err, len(armImages.Images))
	}
	armImageID := aws.ToString(armImages.Images[0].ImageId)

	// An instance of this cluster that no record accounts for, as a leader
	// that died before its agent joined leaves, and one of another cluster.
	issuer, _ := joinauth.Issuer("", joinToken)
	ours, _ := issuer.PublicKey()
	stray := func(cluster string) string {
		out, err := ec.RunInstances(c, &ec2.RunInstancesInput{ImageId: aws.String(imageID), InstanceType: ec2types.InstanceTypeM7iXlarge,
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1), TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
				Tags: []ec2types.Tag{{Key: aws.String(fleet.TagCluster), Value: aws.String(cluster)}}}}})
		if err != nil {
			t.Fatalf("RunInstances: %v", err)
		}
		return aws.ToString(out.Instances[0].InstanceId)
	}
	orphan, foreign := stray(ours), stray("another-cluster")
	state := func(id string) ec2types.InstanceStateName {
		out, err := ec.DescribeInstances(c, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil || len(out.Reservations) == 0 || len(out.Reservations[0].Instances) == 0 {
			t.Fatalf("DescribeInstances %s: %v", id, err)
		}
		return out.Reservations[0].Instances[0].State.Name
	}

	bin := paddockBinary(t)
	dataDir := t.TempDir()
	p, err := platform.Start(context.Background(), platform.Options{
		DataDir: dataDir, Listen: "127.0.0.1:0",
		AccessKeyID: "AKIDPADDOCKTEST", SecretAccessKey: "paddock-test-secret",
		Provider: "ec2", EngineListen: first.Gateway.String() + ":0", JoinToken: joinToken,
		EC2Endpoint: motoURL, EC2ImageIDs: []string{armImageID, imageID}, AgentPath: "/opt/paddock/paddock", EC2LaunchTimeout: time.Minute,
		EmptyInstanceCooldown: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("start paddock server: %v", err)
	}
	cl := &cluster{env: &env{t: t, p: p, dataDir: dataDir, lambda: client(p.Endpoint, p.AccessKeyID, p.SecretAccessKey)},
		t: t, bin: bin, token: joinToken, hosts: []*testhost.Host{first}, agents: map[int]*exec.Cmd{}, exited: map[int]<-chan error{}, logs: map[int]string{}}
	t.Cleanup(func() {
		p.Close()
		cl.stopAll()
		if t.Failed() {
			cl.dumpLogs()
		}
	})
	waitFor(t, "the server leads", p.Leading)
	waitFor(t, "the cluster's stray instance terminated", func() bool {
		st := state(orphan)
		return st == ec2types.InstanceStateNameShuttingDown || st == ec2types.InstanceStateNameTerminated
	})
	if st := state(foreign); st != ec2types.InstanceStateNameRunning && st != ec2types.InstanceStateNamePending {
		t.Fatalf("another cluster's instance is %s: a leader terminated what is not its cluster's", st)
	}

	cpOut, err := cl.lambda.CreateCapacityProvider(c, &lambda.CreateCapacityProviderInput{
		CapacityProviderName: aws.String("cp-ec2"),
		VpcConfig:            &types.CapacityProviderVpcConfig{SubnetIds: subnets, SecurityGroupIds: []string{sgID}},
		PermissionsConfig:    &types.CapacityProviderPermissionsConfig{CapacityProviderOperatorRoleArn: aws.String(opRole)},
		InstanceRequirements: &types.InstanceRequirements{Architectures: []types.Architecture{types.ArchitectureX8664}, AllowedInstanceTypes: []string{"m7i.xlarge"}},
	})
	if err != nil {
		t.Fatalf("CreateCapacityProvider: %v", err)
	}
	cl.function("on-ec2", aws.ToString(cpOut.CapacityProvider.CapacityProviderArn), fnOpts{})
	if _, err := cl.lambda.PutFunctionScalingConfig(c, &lambda.PutFunctionScalingConfigInput{
		FunctionName: aws.String("on-ec2"), Qualifier: aws.String("$LATEST.PUBLISHED"),
		FunctionScalingConfig: &types.FunctionScalingConfig{MinExecutionEnvironments: aws.Int32(2), MaxExecutionEnvironments: aws.Int32(2)}}); err != nil {
		t.Fatal(err)
	}
	published, err := cl.lambda.PublishVersion(c, &lambda.PublishVersionInput{FunctionName: aws.String("on-ec2")})
	if err != nil {
		t.Fatalf("PublishVersion: %v", err)
	}
	version := aws.ToString(published.Version)

	// Each instance Paddock runs gets an agent, as its user data would start.
	tagged := []ec2types.Filter{{Name: aws.String("tag-key"), Values: []string{fleet.TagInstance}}}
	describe := func() []ec2types.Instance {
		out, err := ec.DescribeInstances(c, &ec2.DescribeInstancesInput{Filters: tagged})
		if err != nil {
			t.Fatalf("DescribeInstances: %v", err)
		}
		var insts []ec2types.Instance
		for _, r := range out.Reservations {
			insts = append(insts, r.Instances...)
		}
		sort.Slice(insts, func(i, j int) bool { return aws.ToString(insts[i].InstanceId) < aws.ToString(insts[j].InstanceId) })
		return insts
	}
	joined := map[string]bool{}
	seen := map[string]ec2types.Instance{}
	deadline := time.Now().Add(60 * time.Second)
	for {
		for _, in := range describe() {
			id := aws.ToString(in.InstanceId)
			seen[id] = in
			if joined[id] || in.State.Name != ec2types.InstanceStateNamePending && in.State.Name != ec2types.InstanceStateNameRunning {
				continue
			}
			i := len(joined)
			if i >= len(cl.hosts) {
				cl.hosts = append(cl.hosts, testhost.New(t))
			}
			cl.startEC2Agent(i, id, string(in.InstanceType))
			joined[id] = true
		}
		st, err := cl.lambda.GetFunctionConfiguration(c, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("on-ec2"), Qualifier: aws.String(version)})
		if err != nil {
			t.Fatal(err)
		}
		if st.State == types.StateActive {
			break
		}
		if st.State != types.StatePending || time.Now().After(deadline) {
			t.Fatalf("version %s is %s (%s), want Active; instances %v", version, st.State, aws.ToString(st.StateReason), joined)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(joined) < 1 || len(joined) > 2 {
		t.Fatalf("%d instances launched for 2 EEs, want 1 or 2", len(joined))
	}
	for _, b := range p.Static.Hosts() {
		if !joined[b.ID] || b.Instance == "" {
			t.Fatalf("host %+v: want every host an instance paddock launched, bound", b)
		}
	}

	// What RunInstances carried.
	var usedSubnets []string
	for id, in := range seen {
		usedSubnets = append(usedSubnets, aws.ToString(in.SubnetId))
		if in.InstanceType != "m7i.xlarge" || aws.ToString(in.ImageId) != imageID {
			t.Errorf("instance %s: type %s image %s, want m7i.xlarge %s", id, in.InstanceType, aws.ToString(in.ImageId), imageID)
		}
		if len(in.SecurityGroups) != 1 || aws.ToString(in.SecurityGroups[0].GroupId) != sgID {
			t.Errorf("instance %s: security groups %+v, want %s", id, in.SecurityGroups, sgID)
		}
		tags := map[string]string{}
		for _, tag := range in.Tags {
			tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		if !strings.HasPrefix(tags[fleet.TagInstance], "i-") || tags[fleet.TagCapacityProvider] != "cp-ec2" || tags["Name"] == "" {
			t.Errorf("instance %s: tags %v", id, tags)
		}
		attr, err := ec.DescribeInstanceAttribute(c, &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String(id), Attribute: ec2types.InstanceAttributeNameUserData})
		if err != nil {
			t.Fatalf("DescribeInstanceAttribute userData: %v", err)
		}
		ud := ""
		if attr.UserData != nil {
			b, err := base64.StdEncoding.DecodeString(aws.ToString(attr.UserData.Value))
			if err != nil {
				t.Fatalf("user data of %s: %v", id, err)
			}
			ud = string(b)
		}
		if want := fleet.UserData("/opt/paddock/paddock", p.EngineURL, joinToken, "m7i.xlarge"); ud != want {
			t.Errorf("instance %s: user data\n%s\nwant\n%s", id, ud, want)
		}
	}
	sort.Strings(usedSubnets)
	if len(usedSubnets) == 2 && usedSubnets[0] == usedSubnets[1] {
		t.Errorf("both instances in subnet %s, want one in each of %v (round-robin)", usedSubnets[0], subnets)
	}
	for _, s := range usedSubnets {
		if s != subnets[0] && s != subnets[1] {
			t.Errorf("instance in subnet %s, not one of the capacity provider's %v", s, subnets)
		}
	}

	for i := 0; i < 10; i++ {
		out, err := cl.invoke("on-ec2", version, fmt.Sprintf(`{"n":%d}`, i))
		if err != nil || out.FunctionError != nil {
			t.Fatalf("invoke %d: %v %+v", i, err, out)
		}
	}

	// Scaled to 0, the version's EEs drain, it is Deactivated, and its
	// instances, empty past the cooldown, are terminated.
	if _, err := cl.lambda.PutFunctionScalingConfig(c, &lambda.PutFunctionScalingConfigInput{
		FunctionName: aws.String("on-ec2"), Qualifier: aws.String(version),
		FunctionScalingConfig: &types.FunctionScalingConfig{MinExecutionEnvironments: aws.Int32(0), MaxExecutionEnvironments: aws.Int32(0)}}); err != nil {
		t.Fatal(err)
	}
	if st := cl.waitState("on-ec2", version, func(s types.State) bool { return s == types.StateDeactivated }); st != types.StateDeactivated {
		t.Fatalf("version %s after scaling to 0, want Deactivated", st)
	}
	waitForLong(t, "the instances terminated in moto", 30*time.Second, func() bool {
		for _, in := range describe() {
			if joined[aws.ToString(in.InstanceId)] && in.State.Name != ec2types.InstanceStateNameTerminated && in.State.Name != ec2types.InstanceStateNameShuttingDown {
				return false
			}
		}
		return true
	})
	for _, in := range describe() {
		if !joined[aws.ToString(in.InstanceId)] {
			t.Errorf("instance %s launched but never needed: %s", aws.ToString(in.InstanceId), in.State.Name)
		}
	}
}

// startEC2Agent runs on test host i the agent EC2 instance id's user data
// would start.
func (c *cluster) startEC2Agent(i int, id, instanceType string) {
	c.t.Helper()
	h := c.hosts[i]
	logPath := filepath.Join(c.t.TempDir(), "agent.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(c.bin, "agent", "--join", c.p.EngineURL, "--token", c.token, "--id", id,
		"--instance-type", instanceType, "--listen", h.Addr.String()+":9402", "--data-dir", filepath.Join(c.t.TempDir(), "agent"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	exited, err := h.Start(cmd)
	if err != nil {
		c.t.Fatalf("start agent %d: %v", i, err)
	}
	c.mu.Lock()
	c.agents[i], c.exited[i], c.logs[i] = cmd, exited, logPath
	c.mu.Unlock()
}

package fleet

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// TestUserData: the script names the join URL, token, type and agent path,
// is valid sh, and, run with curl and systemd-run stubbed, starts the agent
// with the instance id and private address from the metadata service and
// every value as one argument, however it is spelled.
func TestUserData(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, tc := range []struct {
		name                    string
		agent, join, token, typ string
	}{
		{"plain", DefaultAgentPath, "nats://10.0.0.5:4222", "s3cr3t", "m7i.xlarge"},
		{"cluster", "/opt/paddock/bin/paddock", "nats://10.0.0.5:4222,nats://10.0.1.5:4222", "tok-123", "c7g.2xlarge"},
		{"quotes", "/usr/local/bin/pad dock", "nats://a:4222", `it's $HOME "x" ` + "`id`", "m7i.large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script := UserData(tc.agent, tc.join, tc.token, tc.typ)
			if !strings.HasPrefix(script, "#!/bin/sh\n") {
				t.Fatalf("script does not start with #!/bin/sh:\n%s", script)
			}
			for _, want := range []string{shellQuote(tc.agent), shellQuote(tc.join), shellQuote(tc.token), shellQuote(tc.typ), "instance-id", "local-ipv4"} {
				if !strings.Contains(script, want) {
					t.Errorf("script lacks %q:\n%s", want, script)
				}
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "user-data")
			if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(sh, "-n", path).CombinedOutput(); err != nil {
				t.Fatalf("sh -n: %v\n%s\n%s", err, out, script)
			}
			// Stubs: curl answers the metadata paths, systemd-run prints its
			// arguments one a line.
			bin := filepath.Join(dir, "bin")
			os.Mkdir(bin, 0o755) //nolint:errcheck
			stub := func(name, body string) {
				if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			stub("curl", `for a; do last=$a; done
case $last in
*/api/token) echo TOKEN ;;
*/meta-data/instance-id) echo i-0123456789abcdef0 ;;
*/meta-data/local-ipv4) echo 10.0.3.7 ;;
*) exit 22 ;;
esac
`)
			stub("systemd-run", `for a; do printf '%s\n' "$a"; done`)
			cmd := exec.Command(sh, path)
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("run: %v\n%s", err, out)
			}
			args := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			i := 0
			for i < len(args) && strings.HasPrefix(args[i], "-") { // systemd-run's own options
				if args[i] == "-p" {
					i++
				}
				i++
			}
			got := strings.Join(args[i:], "|")
			want := strings.Join([]string{tc.agent, "agent", "--join", tc.join, "--token", tc.token, "--id", "i-0123456789abcdef0",
				"--instance-type", tc.typ, "--listen", "0.0.0.0:9402", "--advertise", "10.0.3.7:9402", "--data-dir", "/var/lib/paddock-agent"}, "|")
			if got != want {
				t.Fatalf("agent command:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestEC2RunInput: subnets round-robin, the capacity provider's security
// groups, the type, the tags and the user data.
func TestEC2RunInput(t *testing.T) {
	e := NewEC2(nil, EC2Config{Images: []string{"ami-1"}, JoinURL: "nats://j:4222", JoinToken: "tok",
		Network: func(cp string) ([]string, []string) {
			return []string{"subnet-a", "subnet-b"}, []string{"sg-1", "sg-2"}
		}})
	typ, _ := LookupInstanceType("m7i.xlarge")
	var subnets []string
	for i := 0; i < 3; i++ {
		in := e.runInput("i-x", "ami-1", typ, "cp1")
		subnets = append(subnets, aws.ToString(in.SubnetId))
		if string(in.InstanceType) != "m7i.xlarge" || aws.ToString(in.ImageId) != "ami-1" || strings.Join(in.SecurityGroupIds, ",") != "sg-1,sg-2" {
			t.Fatalf("input %+v", in)
		}
		tags := map[string]string{}
		for _, tag := range in.TagSpecifications[0].Tags {
			tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		if tags[TagInstance] != "i-x" || tags[TagCapacityProvider] != "cp1" || tags["Name"] == "" {
			t.Fatalf("tags %v", tags)
		}
		ud, err := base64.StdEncoding.DecodeString(aws.ToString(in.UserData))
		if err != nil || string(ud) != UserData(DefaultAgentPath, "nats://j:4222", "tok", "m7i.xlarge") {
			t.Fatalf("user data %q %v", ud, err)
		}
	}
	if got := strings.Join(subnets, ","); got != "subnet-a,subnet-b,subnet-a" {
		t.Fatalf("subnets %s", got)
	}
}

// fakeEC2 records the calls of the ec2 provider.
type fakeEC2 struct {
	mu         sync.Mutex
	runs       []*ec2.RunInstancesInput
	terminated []string
	describes  int // DescribeImages calls
}

func (f *fakeEC2) RunInstances(_ context.Context, in *ec2.RunInstancesInput, _ ...func(*ec2.Options)) (*ec2.RunInstancesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs = append(f.runs, in)
	id := fmt.Sprintf("i-%017d", len(f.runs))
	return &ec2.RunInstancesOutput{Instances: []types.Instance{{InstanceId: aws.String(id)}}}, nil
}

func (f *fakeEC2) DescribeInstances(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	return &ec2.DescribeInstancesOutput{}, nil
}

// DescribeImages knows ami-1 (x86_64) and ami-2 (arm64).
func (f *fakeEC2) DescribeImages(_ context.Context, in *ec2.DescribeImagesInput, _ ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.describes++
	known := map[string]types.ArchitectureValues{"ami-1": types.ArchitectureValuesX8664, "ami-2": types.ArchitectureValuesArm64}
	var out ec2.DescribeImagesOutput
	for _, id := range in.ImageIds {
		if arch, ok := known[id]; ok {
			out.Images = append(out.Images, types.Image{ImageId: aws.String(id), Architecture: arch})
		}
	}
	return &out, nil
}

func (f *fakeEC2) TerminateInstances(_ context.Context, in *ec2.TerminateInstancesInput, _ ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.terminated = append(f.terminated, in.InstanceIds...)
	return &ec2.TerminateInstancesOutput{}, nil
}

// TestEC2LaunchNotJoined: an instance whose agent does not join within the
// launch timeout, or whose launch is cancelled, is terminated.
func TestEC2LaunchNotJoined(t *testing.T) {
	f := &fakeEC2{}
	e := NewEC2(NewStatic(nil, nil, nil, nil), EC2Config{Client: f, Images: []string{"ami-1"}, Timeout: 100 * time.Millisecond})
	typ, _ := LookupInstanceType("m7i.xlarge")
	start := time.Now()
	if _, err := e.Launch(context.Background(), "i-a", typ, "cp", nil); err == nil || !strings.Contains(err.Error(), "did not join within") {
		t.Fatalf("launch: %v, want did not join", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("launch took %v with a 100ms timeout", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := e.Launch(ctx, "i-b", typ, "cp", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled launch: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := strings.Join(f.terminated, ","); got != "i-00000000000000001,i-00000000000000002" {
		t.Fatalf("terminated %s, want both instances", got)
	}
	if aws.ToString(f.runs[0].ClientToken) != "i-a" || aws.ToString(f.runs[1].ClientToken) != "i-b" {
		t.Fatalf("client tokens %s %s", aws.ToString(f.runs[0].ClientToken), aws.ToString(f.runs[1].ClientToken))
	}
}

// TestEC2ImageByArch: each instance boots the image of its type's
// architecture, as EC2 describes the images (asked once); a missing
// architecture, two images of one, or an unknown image is a clear error.
func TestEC2ImageByArch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		images  []string
		typ     string
		want    string // the image launched, or
		wantErr string // the error's text
	}{
		{name: "x86_64 of two", images: []string{"ami-2", "ami-1"}, typ: "m7i.xlarge", want: "ami-1"},
		{name: "arm64 of two", images: []string{"ami-1", "ami-2"}, typ: "m7g.xlarge", want: "ami-2"},
		{name: "one image", images: []string{"ami-1"}, typ: "c7i.large", want: "ami-1"},
		{name: "no arm64 image", images: []string{"ami-1"}, typ: "m7g.xlarge", wantErr: "no EC2 image for arm64 instances: give the ec2 provider an arm64 AMI as well (--ec2-image-id)"},
		{name: "an unknown image", images: []string{"ami-1", "ami-3"}, typ: "m7i.xlarge", wantErr: "EC2 image ami-3 was not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeEC2{}
			e := NewEC2(NewStatic(nil, nil, nil, nil), EC2Config{Client: f, Images: tc.images, Timeout: time.Millisecond})
			typ, ok := LookupInstanceType(tc.typ)
			if !ok {
				t.Fatalf("no type %s", tc.typ)
			}
			for range 2 {
				_, err := e.Launch(context.Background(), "i-a", typ, "cp", nil)
				if tc.wantErr != "" {
					if err == nil || err.Error() != tc.wantErr {
						t.Fatalf("launch: %v, want %q", err, tc.wantErr)
					}
					continue
				}
				f.mu.Lock()
				got := aws.ToString(f.runs[len(f.runs)-1].ImageId)
				f.mu.Unlock()
				if got != tc.want {
					t.Fatalf("launched %s, want %s", got, tc.want)
				}
			}
			if tc.wantErr == "" && f.describes != 1 {
				t.Fatalf("DescribeImages called %d times for 2 launches, want once", f.describes)
			}
		})
	}
}

// TestImagesByArch: the architectures EC2 gives decide, and images of
// one architecture twice, or of a kind no capacity provider runs, are
// refused.
func TestImagesByArch(t *testing.T) {
	img := func(id string, arch types.ArchitectureValues) types.Image {
		return types.Image{ImageId: aws.String(id), Architecture: arch}
	}
	for _, tc := range []struct {
		name      string
		asked     []string
		described []types.Image
		want      map[string]string
		wantErr   string
	}{
		{name: "both", asked: []string{"ami-a", "ami-b"}, described: []types.Image{img("ami-a", "arm64"), img("ami-b", "x86_64")},
			want: map[string]string{"arm64": "ami-a", "x86_64": "ami-b"}},
		{name: "same twice", asked: []string{"ami-a", "ami-b"}, described: []types.Image{img("ami-a", "x86_64"), img("ami-b", "x86_64")},
			wantErr: "EC2 images ami-a and ami-b are both x86_64: give one image per architecture"},
		{name: "mac", asked: []string{"ami-m"}, described: []types.Image{img("ami-m", "arm64_mac")},
			wantErr: "EC2 image ami-m is for Mac instances (arm64_mac), which the ec2 provider does not launch"},
		{name: "i386", asked: []string{"ami-i"}, described: []types.Image{img("ami-i", "i386")},
			wantErr: "EC2 image ami-i is for i386, which no capacity provider runs"},
		{name: "missing", asked: []string{"ami-a", "ami-z"}, described: []types.Image{img("ami-a", "x86_64")},
			wantErr: "EC2 image ami-z was not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := imagesByArch(tc.asked, tc.described)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !maps.Equal(got, tc.want) {
				t.Fatalf("got %v %v, want %v", got, err, tc.want)
			}
		})
	}
}

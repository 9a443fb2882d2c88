// Package k8s checks the cluster recipe, examples/k8s/hashr-job.yaml: it
// parses strictly (an unknown or misspelt field fails), its objects refer
// to each other, its Indexed Job deals one shard per completion index, and
// the commands its containers run are examples/Makefile's: the test runs
// them, with the volumes as directories, into a PostgreSQL, and the
// database ends equal to the one the Makefile gives run directly.
package k8s

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/hashr-dev/hashr/internal/db/dbtest"
	"github.com/hashr-dev/hashr/internal/db/pgtest"
	"github.com/hashr-dev/hashr/internal/testcorpus"
)

// The fields the manifest uses, from the Kubernetes API (core/v1,
// batch/v1); decoding with KnownFields refuses any other.
type object struct {
	APIVersion string    `yaml:"apiVersion"`
	Kind       string    `yaml:"kind"`
	Metadata   meta      `yaml:"metadata"`
	Spec       yaml.Node `yaml:"spec"`
}

type meta struct {
	Name        string            `yaml:"name"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type jobSpec struct {
	CompletionMode       string `yaml:"completionMode"`
	Completions          *int   `yaml:"completions"`
	Parallelism          *int   `yaml:"parallelism"`
	BackoffLimit         *int   `yaml:"backoffLimit"`
	BackoffLimitPerIndex *int   `yaml:"backoffLimitPerIndex"`
	Template             struct {
		Metadata meta    `yaml:"metadata"`
		Spec     podSpec `yaml:"spec"`
	} `yaml:"template"`
}

type podSpec struct {
	ServiceAccountName string      `yaml:"serviceAccountName"`
	RestartPolicy      string      `yaml:"restartPolicy"`
	Containers         []container `yaml:"containers"`
	Volumes            []volume    `yaml:"volumes"`
}

type volume struct {
	Name                  string `yaml:"name"`
	PersistentVolumeClaim *struct {
		ClaimName string `yaml:"claimName"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"persistentVolumeClaim"`
	EmptyDir *struct {
		SizeLimit string `yaml:"sizeLimit"`
	} `yaml:"emptyDir"`
}

type container struct {
	Name       string   `yaml:"name"`
	Image      string   `yaml:"image"`
	WorkingDir string   `yaml:"workingDir"`
	Command    []string `yaml:"command"`
	Env        []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

type pvcSpec struct {
	AccessModes []string `yaml:"accessModes"`
	Resources   struct {
		Requests map[string]string `yaml:"requests"`
	} `yaml:"resources"`
}

// strict decodes b into v refusing unknown fields.
func strict(b []byte, v any) error {
	d := yaml.NewDecoder(bytes.NewReader(b))
	d.KnownFields(true)
	return d.Decode(v)
}

func specOf(t *testing.T, o object, v any) {
	t.Helper()
	b, err := yaml.Marshal(&o.Spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := strict(b, v); err != nil {
		t.Fatalf("%s %s: spec: %v", o.Kind, o.Metadata.Name, err)
	}
}

var top = func() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..")
}()

// manifest is the recipe's objects, by kind and name.
type manifest struct {
	scan, shards jobSpec
	pvc          pvcSpec
	names        map[string]bool // "Kind/name"
}

func readManifest(t *testing.T) manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(top, "examples", "k8s", "hashr-job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := manifest{names: map[string]bool{}}
	d := yaml.NewDecoder(bytes.NewReader(b))
	d.KnownFields(true)
	for {
		var o object
		err := d.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("hashr-job.yaml: %v", err)
		}
		m.names[o.Kind+"/"+o.Metadata.Name] = true
		switch o.Kind + "/" + o.Metadata.Name {
		case "Job/hashr-scan":
			specOf(t, o, &m.scan)
		case "Job/hashr-shards":
			specOf(t, o, &m.shards)
		case "PersistentVolumeClaim/hashr-sources":
			specOf(t, o, &m.pvc)
		case "ServiceAccount/hashr":
		default:
			t.Errorf("hashr-job.yaml has %s %s, which this test does not know", o.Kind, o.Metadata.Name)
		}
		if o.Metadata.Labels["hashr-step"] == "" {
			t.Errorf("%s %s has no hashr-step label: the README's kubectl apply -l would skip it", o.Kind, o.Metadata.Name)
		}
	}
	return m
}

// makeLine matches the make invocation a container's script ends with.
var makeLine = regexp.MustCompile(`(?m)^exec make -f examples/Makefile SHARDS=(\d+) REPO="\$REPO" DB="\$HASHR_DB" WORK=(\S+) (\S+)$`)

func TestManifestIsOneShardPerIndex(t *testing.T) {
	m := readManifest(t)
	for _, want := range []string{"ServiceAccount/hashr", "PersistentVolumeClaim/hashr-sources", "Job/hashr-scan", "Job/hashr-shards"} {
		if !m.names[want] {
			t.Errorf("hashr-job.yaml has no %s", want)
		}
	}
	if m.shards.CompletionMode != "Indexed" || m.shards.Completions == nil {
		t.Fatalf("hashr-shards: completionMode %q, completions %v: want an Indexed Job with completions", m.shards.CompletionMode, m.shards.Completions)
	}
	if m.shards.BackoffLimitPerIndex != nil && m.shards.Template.Spec.RestartPolicy != "Never" {
		t.Errorf("backoffLimitPerIndex needs restartPolicy Never, not %q", m.shards.Template.Spec.RestartPolicy)
	}
	if !slices.Contains(m.pvc.AccessModes, "ReadWriteMany") {
		t.Errorf("the sources volume is %v: every shard's pod reads it, on any node: want ReadWriteMany", m.pvc.AccessModes)
	}
	for name, job := range map[string]jobSpec{"hashr-scan": m.scan, "hashr-shards": m.shards} {
		pod := job.Template.Spec
		if pod.ServiceAccountName != "hashr" || len(pod.Containers) != 1 {
			t.Fatalf("%s: service account %q, %d containers", name, pod.ServiceAccountName, len(pod.Containers))
		}
		c := pod.Containers[0]
		match := makeLine.FindStringSubmatch(script(t, c))
		if match == nil {
			t.Fatalf("%s: the script does not end with examples/Makefile's make: %q", name, script(t, c))
		}
		if shards, _ := strconv.Atoi(match[1]); shards != *m.shards.Completions {
			t.Errorf("%s: SHARDS=%d but hashr-shards has %d completions", name, shards, *m.shards.Completions)
		}
		wantTarget := match[2] + "/sources.ndjson" // the Makefile's $(WORK)/sources.ndjson
		if name == "hashr-shards" {
			wantTarget = match[2] + `/shard-"$JOB_COMPLETION_INDEX".done` // $(WORK)/shard-%.done
		}
		if match[3] != wantTarget {
			t.Errorf("%s: make target %s, want %s", name, match[3], wantTarget)
		}
		for _, mount := range c.VolumeMounts {
			if !slices.ContainsFunc(pod.Volumes, func(v volume) bool {
				return v.Name == mount.Name && (v.EmptyDir != nil || v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == "hashr-sources")
			}) {
				t.Errorf("%s: volume mount %s names no volume of the pod", name, mount.Name)
			}
		}
	}
	// The targets must be the Makefile's own rules, not files it has no
	// rule for.
	mk, err := os.ReadFile(filepath.Join(top, "examples", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range []string{"\n$(WORK)/sources.ndjson:", "\n$(WORK)/shard-%.done: $(WORK)/shard-%.ndjson"} {
		if !bytes.Contains(mk, []byte(rule)) {
			t.Errorf("examples/Makefile has no rule %q, which the manifest's make targets", strings.TrimSpace(rule))
		}
	}
}

func script(t *testing.T, c container) string {
	t.Helper()
	if len(c.Command) != 3 || c.Command[0] != "bash" || c.Command[1] != "-c" {
		t.Fatalf("container %s runs %q, want bash -c SCRIPT", c.Name, c.Command)
	}
	return strings.TrimSpace(c.Command[2])
}

// pod runs a container's script as its pod would: the volumes as
// directories (the same for a claim, fresh for an emptyDir), the working
// directory the repository's root, the environment the manifest's with
// REPO and HASHR_DB the test's.
type pod struct {
	claims map[string]string // claim name -> directory
	bin    string
	env    map[string]string
}

func (p pod) run(t *testing.T, c container, index int) error {
	s := script(t, c)
	mounts := slices.Clone(c.VolumeMounts)
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].MountPath) > len(mounts[j].MountPath) })
	for _, m := range mounts {
		dir := p.claims[m.Name]
		if dir == "" {
			dir = t.TempDir() // an emptyDir
		}
		s = strings.ReplaceAll(s, m.MountPath, dir)
	}
	cmd := exec.Command("bash", "-c", s)
	cmd.Dir = top // the image's /hashr: the repository
	cmd.Env = append(os.Environ(), "BIN="+p.bin, "JOB_COMPLETION_INDEX="+strconv.Itoa(index), "MAKEFLAGS=")
	for _, e := range c.Env {
		v, ok := p.env[e.Name]
		if !ok {
			v = e.Value
		}
		cmd.Env = append(cmd.Env, e.Name+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s, index %d: %v\n%s", c.Name, index, err, out)
	}
	return nil
}

// smallRepository is a directory of sources with real shape: tarballs
// made by GNU tar, files shared between them, plain files.
func smallRepository(t *testing.T) string {
	testcorpus.NeedTools(t, "tar", "gzip", "make", "awk")
	repo, src := t.TempDir(), t.TempDir()
	for i := range 10 {
		dir := filepath.Join(src, fmt.Sprintf("pkg%d", i))
		if err := os.MkdirAll(filepath.Join(dir, "usr", "share", "doc"), 0o755); err != nil {
			t.Fatal(err)
		}
		files := map[string]string{
			"usr/share/doc/COPYING":   "shared by every package\n",
			"usr/share/doc/README":    fmt.Sprintf("package %d\n%s", i, strings.Repeat("x", i*1000)),
			fmt.Sprintf("bin%d", i%3): fmt.Sprintf("#!/bin/sh\necho %d\n", i%3),
		}
		for name, text := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		tarball := filepath.Join(repo, fmt.Sprintf("pkg%d.tar.gz", i))
		if out, err := exec.Command("tar", "-czf", tarball, "-C", dir, ".").CombinedOutput(); err != nil {
			t.Fatalf("tar: %v\n%s", err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, "notes.txt"), []byte("a plain file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return repo
}

// The scan Job, then every index of the shards Job at once, as the
// cluster runs them, into one PostgreSQL: the database equals what
// examples/Makefile gives run by hand with one shard.
func TestManifestRunsTheMakefilesShards(t *testing.T) {
	m := readManifest(t)
	repo := smallRepository(t)
	pg := pgtest.Start(t)
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/...")
	build.Dir = top
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	db := pg.NewDatabase(t)
	shared := t.TempDir()
	p := pod{claims: map[string]string{"sources": shared}, bin: bin, env: map[string]string{"REPO": repo, "HASHR_DB": db}}
	if err := p.run(t, m.scan.Template.Spec.Containers[0], 0); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, *m.shards.Completions)
	for i := range errs {
		wg.Go(func() { errs[i] = p.run(t, m.shards.Template.Spec.Containers[0], i) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	reference := pg.NewDatabase(t)
	cmd := exec.Command("make", "-s", "-f", filepath.Join(top, "examples", "Makefile"), "SHARDS=1",
		"REPO="+repo, "DB="+reference, "WORK="+t.TempDir(), "BIN="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make: %v\n%s", err, out)
	}
	volatile := []string{"ms", "new_files"}
	want := dbtest.DumpExcept(t, reference, volatile...)
	if got := dbtest.DumpExcept(t, db, volatile...); dbtest.Diff(want, got) != "" {
		t.Errorf("the manifest's shards loaded another database than the Makefile's:\n%s", dbtest.Diff(want, got))
	}
	if n := dbtest.Count(t, db, `SELECT count(*) FROM jobs`); n < 10 {
		t.Errorf("%d jobs, want one for each of the 10 tarballs at least", n)
	}
}

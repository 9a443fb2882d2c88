// Command servescale is bench/serve-scale.sh's generator and load
// generator.
//
//	servescale gen -samples N [-per-source 1000]   # NDJSON for hashr-load on stdout
//	servescale hit -url URL -samples N [-c 8] [-n 2000] [-bulk 0|1000]
//
// gen writes N file records, each a distinct sample (its content is
// "serve-scale sample I"), in sources of -per-source files, so that hit can
// name known samples by recomputing their digests instead of reading the
// set. hit sends -n requests from -c concurrent clients (each keeps its
// connection): GET /lookup/sha1/H of a random known sample, or with -bulk
// K, POST /bulk/sha1 of K random known samples (the SHA-1 of every sample
// computed first); it checks every answer and prints requests/s, the
// p50, p90, p99 and maximum latency, and its own CPU per request.
package main

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashr-dev/hashr/pkg/records"
)

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "gen" && os.Args[1] != "hit") {
		fmt.Fprintln(os.Stderr, "usage: servescale gen|hit [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	samples := fs.Int("samples", 1_000_000, "samples in the set")
	perSource := fs.Int("per-source", 1000, "gen: file records per source")
	url := fs.String("url", "http://127.0.0.1:8080", "hit: hashr-serve's base URL")
	clients := fs.Int("c", 8, "hit: concurrent clients")
	n := fs.Int("n", 2000, "hit: requests in all")
	bulk := fs.Int("bulk", 0, "hit: hashes per bulk request (0: single lookups)")
	fs.Parse(os.Args[2:])
	var err error
	if os.Args[1] == "gen" {
		err = generate(os.Stdout, *samples, *perSource)
	} else {
		err = hit(*url, *samples, *clients, *n, *bulk)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "servescale:", err)
		os.Exit(1)
	}
}

type digests struct{ sha256, sha1, md5 string }

func digestsOf(content string) digests {
	a, b, c := sha256.Sum256([]byte(content)), sha1.Sum([]byte(content)), md5.Sum([]byte(content))
	return digests{hex.EncodeToString(a[:]), hex.EncodeToString(b[:]), hex.EncodeToString(c[:])}
}

func sampleContent(i int) string { return fmt.Sprintf("serve-scale sample %d", i) }

// sha1Of is sample i's SHA-1, the one digest hit asks by: the load
// generator shares the CPUs with the server it measures, so it computes
// no more than it sends.
func sha1Of(i int) []byte {
	var content [40]byte
	sum := sha1.Sum(strconv.AppendInt(append(content[:0], "serve-scale sample "...), int64(i), 10))
	return sum[:]
}

// sampleKeys is the SHA-1 of every sample of the set, computed before
// the load: the generator shares the CPUs with the server it measures,
// and a SHA-1, its text and an allocation for each of a bulk's 1,000
// keys, a bulk after bulk, made it cost more than a client with its
// requests written beforehand (ab) would. 20 bytes a sample: 197 MB
// for the 9,872,000-sample set.
type sampleKeys []byte

// newSampleKeys computes the keys of samples, on every CPU.
func newSampleKeys(samples int) sampleKeys {
	keys := make(sampleKeys, samples*sha1.Size)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w * samples / workers; i < (w+1)*samples/workers; i++ {
				copy(keys[i*sha1.Size:], sha1Of(i))
			}
		})
	}
	wg.Wait()
	return keys
}

// lowerHexPairs is each byte's two hex digits.
var lowerHexPairs = func() (t [256][2]byte) {
	const digits = "0123456789abcdef"
	for i := range t {
		t[i] = [2]byte{digits[i>>4], digits[i&0xF]}
	}
	return t
}()

// bulkBody appends to body (emptied) {"hashes": [...]} of bulk distinct
// random samples (the answer has one record each), their keys from
// keys; picked is the caller's, emptied and reused.
func bulkBody(body []byte, r *rand.Rand, keys sampleKeys, bulk int, picked map[int32]struct{}) []byte {
	clear(picked)
	samples := len(keys) / sha1.Size
	body = append(body[:0], `{"hashes":[`...)
	for len(picked) < bulk {
		i := r.IntN(samples)
		if _, ok := picked[int32(i)]; ok {
			continue
		}
		if len(picked) > 0 {
			body = append(body, ',')
		}
		picked[int32(i)] = struct{}{}
		body = append(body, '"')
		for _, c := range keys[i*sha1.Size : (i+1)*sha1.Size] {
			p := &lowerHexPairs[c]
			body = append(body, p[0], p[1])
		}
		body = append(body, '"')
	}
	return append(body, "]}"...)
}

// generate streams the set: sources of perSource files, every file a new
// sample, with its end record.
func generate(out io.Writer, samples, perSource int) error {
	w := records.NewWriter(out)
	for first := 0; first < samples; first += perSource {
		id := fmt.Sprintf("package-%07d_1.0-1_amd64.deb", first/perSource)
		src := digestsOf("source " + id).sha256
		w.Write(&records.Source{Repo: "scale", RepoPath: "/mirror", ID: id, URI: "/mirror/" + id, Format: "deb",
			Size: records.Int64(123456), Mtime: "2024-05-01T10:00:00Z", QuickSHA256: digestsOf("quick " + id).sha256, SHA256: src})
		last := min(first+perSource, samples)
		for i := first; i < last; i++ {
			d := digestsOf(sampleContent(i))
			w.Write(&records.File{Source: src, Path: fmt.Sprintf("usr/lib/%s/dir%02d/file-%07d.so", id[:15], i%7, i),
				Size: records.Int64(int64(len(sampleContent(i)))), Mode: "0644",
				MD5: d.md5, SHA1: d.sha1, SHA256: d.sha256, MIME: "application/x-sharedlib", Seen: records.Bool(false)})
		}
		w.Write(&records.End{Source: src, Files: int64(last - first), Bytes: 1000})
	}
	return w.Flush()
}

// hit runs the load and prints its figures.
func hit(url string, samples, clients, n, bulk int) error {
	var mu sync.Mutex
	var latencies []time.Duration
	var firstErr error
	var dialled atomic.Int64 // connections opened, counted by trace
	var wg sync.WaitGroup
	var keys sampleKeys
	if bulk > 0 {
		keys = newSampleKeys(samples)
	}
	jobs := make(chan int)
	cpu0 := cpuTime()
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(c), 7))
			// A transport of its own, keeping its one connection: on
			// http.DefaultTransport the 8 clients shared 2 idle
			// connections (MaxIdleConnsPerHost), so a client whose
			// request ended while 2 others' had closed its connection
			// and dialled anew.
			client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			var answer bytes.Buffer // reused: a bulk's answer is a megabyte
			var b bulkState
			if bulk > 0 {
				b = bulkState{keys: keys, picked: make(map[int32]struct{}, bulk)}
			}
			for range jobs {
				took, err := request(client, &answer, url, r, samples, bulk, &b, &dialled)
				mu.Lock()
				latencies = append(latencies, took)
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	if firstErr != nil {
		return firstErr
	}
	slices.Sort(latencies)
	at := func(q float64) string {
		return fmt.Sprintf("%.2f", float64(latencies[int(q*float64(len(latencies)-1))].Microseconds())/1000)
	}
	fmt.Printf("requests %d  clients %d  req/s %.0f  p50 %s ms  p90 %s ms  p99 %s ms  max %s ms  connections %d\n",
		n, clients, float64(n)/elapsed.Seconds(), at(0.50), at(0.90), at(0.99), at(1), dialled.Load())
	fmt.Printf("  load generator (servescale hit) CPU per request: %.2f ms (its keys computed before, apart)\n",
		float64(cpu.Microseconds())/1000/float64(n))
	return nil
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// bulkState is a client's keys and what it reuses from bulk to bulk.
type bulkState struct {
	keys   sampleKeys
	body   []byte
	picked map[int32]struct{}
}

// request sends one lookup (bulk 0) or bulk request of known samples and
// checks that the answer knows them all.
func request(client *http.Client, answer *bytes.Buffer, url string, r *rand.Rand, samples, bulk int, b *bulkState, dialled *atomic.Int64) (time.Duration, error) {
	var req *http.Request
	want := max(bulk, 1)
	if bulk == 0 {
		h := strings.ToUpper(hex.EncodeToString(sha1Of(r.IntN(samples))))
		req, _ = http.NewRequest("GET", url+"/lookup/sha1/"+h, nil)
	} else {
		// The body is reused: the answer read whole means the request
		// was sent whole.
		b.body = bulkBody(b.body, r, b.keys, bulk, b.picked)
		req, _ = http.NewRequest("POST", url+"/bulk/sha1", bytes.NewReader(b.body))
		req.Header.Set("Content-Type", "application/json")
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		ConnectDone: func(string, string, error) { dialled.Add(1) },
	}))
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	answer.Reset()
	_, err = answer.ReadFrom(resp.Body)
	resp.Body.Close()
	body := answer.Bytes()
	took := time.Since(start)
	if err != nil || resp.StatusCode != 200 {
		return took, fmt.Errorf("%s %s: status %d: %v %.200s", req.Method, req.URL, resp.StatusCode, err, body)
	}
	// Counted by `SHA-1"`, not `"SHA-1"`: bytes.Count finds a pattern by
	// its first byte, and a quote every few bytes of JSON made it 8
	// instructions a byte, most of the generator's CPU for a bulk's
	// answer; an S is in a record's digest keys only.
	if got := bytes.Count(body, []byte(`SHA-1"`)); got < want {
		return took, errors.New(req.URL.String() + ": fewer records than hashes asked (duplicates aside): " + fmt.Sprint(got, " of ", want))
	}
	return took, nil
}

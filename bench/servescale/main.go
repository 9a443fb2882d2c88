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
// K, POST /bulk/sha1 of K random known samples; it checks every answer and
// prints requests/s and the p50, p90, p99 and maximum latency.
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
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// bulkBody is {"hashes": [...]} of bulk distinct random samples (the
// answer has one record each), written without encoding/json.
func bulkBody(r *rand.Rand, samples, bulk int) []byte {
	picked := make(map[int]bool, bulk)
	body := make([]byte, 0, 16+bulk*43)
	body = append(body, `{"hashes":[`...)
	for len(picked) < bulk {
		i := r.IntN(samples)
		if picked[i] {
			continue
		}
		if len(picked) > 0 {
			body = append(body, ',')
		}
		picked[i] = true
		body = append(hex.AppendEncode(append(body, '"'), sha1Of(i)), '"')
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
	jobs := make(chan int)
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
			for range jobs {
				took, err := request(client, &answer, url, r, samples, bulk, &dialled)
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
	if firstErr != nil {
		return firstErr
	}
	slices.Sort(latencies)
	at := func(q float64) string {
		return fmt.Sprintf("%.2f", float64(latencies[int(q*float64(len(latencies)-1))].Microseconds())/1000)
	}
	fmt.Printf("requests %d  clients %d  req/s %.0f  p50 %s ms  p90 %s ms  p99 %s ms  max %s ms  connections %d\n",
		n, clients, float64(n)/elapsed.Seconds(), at(0.50), at(0.90), at(0.99), at(1), dialled.Load())
	return nil
}

// request sends one lookup (bulk 0) or bulk request of known samples and
// checks that the answer knows them all.
func request(client *http.Client, answer *bytes.Buffer, url string, r *rand.Rand, samples, bulk int, dialled *atomic.Int64) (time.Duration, error) {
	var req *http.Request
	want := max(bulk, 1)
	if bulk == 0 {
		h := strings.ToUpper(hex.EncodeToString(sha1Of(r.IntN(samples))))
		req, _ = http.NewRequest("GET", url+"/lookup/sha1/"+h, nil)
	} else {
		req, _ = http.NewRequest("POST", url+"/bulk/sha1", bytes.NewReader(bulkBody(r, samples, bulk)))
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
	if got := bytes.Count(body, []byte(`"SHA-1"`)); got < want {
		return took, errors.New(req.URL.String() + ": fewer records than hashes asked (duplicates aside): " + fmt.Sprint(got, " of ", want))
	}
	return took, nil
}

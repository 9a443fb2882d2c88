package serve

import (
	"bytes"
	"context"
	"image"
	_ "image/png" // screenshots
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// chromium finds a headless-capable Chromium; without one the browser
// test is skipped, except under CI, where it must run.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("the browser test must run in CI: no chromium found (apt-get install chromium; .ci/install-deps.txt lists it)")
	}
	t.Skip("skipping the browser test: no chromium, chromium-browser or google-chrome on PATH (apt-get install chromium)")
	return ""
}

// TestBrowser drives the page in a real headless Chromium: a known and
// an unknown hash, hostile names shown as text with no script run, a
// local file hashed in the browser, paging through a source, and a
// screenshot that shows something.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "hashr.db")
	set := buildSet(t, dbURL)
	_, ts := newTestServer(t, dbURL, nil, nil)

	ctx, dialogs := startBrowser(t, exe, ts.URL)
	testBrowserLookups(t, ctx, ts.URL, set)
	testBrowserSource(t, ctx, ts.URL)
	if n := dialogs.Load(); n != 0 {
		t.Errorf("%d JavaScript dialogs opened: a hostile name ran a script", n)
	}
}

// startBrowser starts Chromium on the page at url, and counts the
// JavaScript dialogs it opens (closing each so the page goes on).
func startBrowser(t *testing.T, exe, url string) (context.Context, *atomic.Int32) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox refuses to start
		chromedp.WindowSize(1200, 900))
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// The first action starts the browser: no timeout on its context, or
	// the timeout would stop the browser (chromedp.Run).
	if err := chromedp.Do(ctx, chromedp.Navigate(url+"/")); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	var dialogs atomic.Int32 // an alert() would be a script the page let run
	opened := make(chan struct{}, 16)
	chromedp.Listen(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			dialogs.Add(1)
			select {
			case opened <- struct{}{}:
			default:
			}
		}
	})
	go func() { // close dialogs, so that the page goes on
		for range opened {
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	t.Cleanup(func() { close(opened) })

	return ctx, &dialogs
}

// testBrowserLookups: a known and an unknown hash, hostile names, a local file.
func testBrowserLookups(t *testing.T, ctx context.Context, url string, set *testSet) {
	a := digests(contentOf["docs/a.txt"])
	browse(t, ctx, "look up a known hash",
		chromedp.SendKeys(chromedp.ID("q"), a["sha1"]),
		chromedp.Click(chromedp.ID("lookup")),
		chromedp.WaitVisible(chromedp.CSS(".known")))
	text := value(t, ctx, chromedp.Text(chromedp.ID("results")))
	if !strings.Contains(text, "tree1.tar") || !strings.Contains(text, "tree2.tar") || !strings.Contains(text, "docs/a.txt") {
		t.Errorf("known hash: results %q, want both trees and the path", text)
	}
	browse(t, ctx, "look up an unknown hash",
		chromedp.SetValue(chromedp.ID("q"), digests("nowhere")["sha256"]),
		chromedp.Click(chromedp.ID("lookup")),
		chromedp.WaitVisible(chromedp.CSS(".unknown")))

	for _, name := range []string{scriptName, imgName} {
		browse(t, ctx, "show "+name,
			chromedp.Navigate(url+"/?q="+digests(contentOf[name])["sha256"]),
			chromedp.WaitVisible(chromedp.CSS(".known")))
		text := value(t, ctx, chromedp.Text(chromedp.CSS(".paths")))
		imgs := value(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('img').length`))
		scripts := value(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('script').length`))
		if strings.TrimSpace(text) != name || imgs != 0 || scripts != 1 {
			t.Errorf("hostile name %q shown as %q, with %d img and %d script elements; want the text, 0 and 1", name, text, imgs, scripts)
		}
	}

	// A local file, hashed by the page's script: it lands on its lookup.
	local := filepath.Join(set.dir, "tree2", "b.txt")
	browse(t, ctx, "hash a local file",
		chromedp.Navigate(url+"/"),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{local}),
		chromedp.WaitVisible(chromedp.CSS(".known")))
	text = value(t, ctx, chromedp.Text(chromedp.ID("results")))
	if !strings.Contains(text, digests(contentOf["b.txt"])["sha256"]) || !strings.Contains(text, "b.txt") {
		t.Errorf("local file: results %q, want b.txt's", text)
	}

}

// testBrowserSource pages through a source, and takes a screenshot.
func testBrowserSource(t *testing.T, ctx context.Context, url string) {
	browse(t, ctx, "page through a source",
		chromedp.Navigate(url+"/ui/sources"),
		chromedp.Click(chromedp.Search(`//a[text()="tree1.tar"]`)),
		chromedp.WaitVisible(chromedp.ID("files")),
		chromedp.Click(chromedp.ID("next")),
		chromedp.WaitVisible(chromedp.ID("prev")))
	pager := value(t, ctx, chromedp.Text(chromedp.CSS(".pager")))
	rows := value(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('#files tr').length - 1`))
	if !strings.HasPrefix(strings.TrimSpace(pager), "page 2 of 2") || rows != manyFiles+3-filesPerPage {
		t.Errorf("second page of tree1: %q with %d files, want page 2 of 2 with %d", pager, rows, manyFiles+3-filesPerPage)
	}

	a := digests(contentOf["docs/a.txt"])
	browse(t, ctx, "open a lookup", chromedp.Navigate(url+"/?q="+a["md5"]), chromedp.WaitVisible(chromedp.CSS(".known")))
	shot := value(t, ctx, chromedp.FullScreenshot(100))
	if colors := distinctColors(t, shot); colors < 16 {
		t.Errorf("the screenshot has %d distinct colours: want a page with content", colors)
	}
}

// stepTimeout bounds each step of the browser test.
const stepTimeout = 30 * time.Second

func browse(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func value[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// distinctColors counts the colours of a PNG, up to 1000.
func distinctColors(t *testing.T, png []byte) int {
	img, _, err := image.Decode(bytes.NewReader(png))
	if err != nil {
		t.Fatalf("decoding the screenshot: %v", err)
	}
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y && len(seen) < 1000; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
		}
	}
	return len(seen)
}

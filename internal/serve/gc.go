package serve

// serveGCPercent is the garbage collector's target while hashr-serve
// runs (cli.CollectLessOften). Its live heap is small and bounded (the
// cache of sources, the requests in flight), while each bulk of 1,000
// hashes leaves 2–3 MB of garbage (rows read, records, the answer): with
// Go's default of 100 the heap's 4 MB floor made a collection, and the
// scavenger's return of the memory to the system, nearly every bulk. At
// 400, hashr-serve's CPU per bulk fell from 19.5 to 13.8 ms on the
// 10M-sample set (bench/README.md) for 30 MiB more at its peak.
const serveGCPercent = 400

package formats

import (
	"io"
	"slices"

	"github.com/hashr-dev/hashr/internal/formats/ar"
	"github.com/hashr-dev/hashr/internal/formats/archive"
	"github.com/hashr-dev/hashr/internal/formats/bridge"
	"github.com/hashr-dev/hashr/internal/formats/cab"
	"github.com/hashr-dev/hashr/internal/formats/cpio"
	"github.com/hashr-dev/hashr/internal/formats/deb"
	"github.com/hashr-dev/hashr/internal/formats/disk"
	"github.com/hashr-dev/hashr/internal/formats/exfat"
	"github.com/hashr-dev/hashr/internal/formats/ext4"
	"github.com/hashr-dev/hashr/internal/formats/fat"
	"github.com/hashr-dev/hashr/internal/formats/iso9660"
	"github.com/hashr-dev/hashr/internal/formats/ntfs"
	"github.com/hashr-dev/hashr/internal/formats/oci"
	"github.com/hashr-dev/hashr/internal/formats/ole"
	"github.com/hashr-dev/hashr/internal/formats/rpm"
	"github.com/hashr-dev/hashr/internal/formats/sevenzip"
	"github.com/hashr-dev/hashr/internal/formats/squashfs"
	"github.com/hashr-dev/hashr/internal/formats/tar"
	"github.com/hashr-dev/hashr/internal/formats/udf"
	"github.com/hashr-dev/hashr/internal/formats/wim"
	"github.com/hashr-dev/hashr/internal/formats/xfs"
	"github.com/hashr-dev/hashr/internal/formats/zip"
)

// The formats' names, the values of a source record's "format" field
// and of file records' "fs".
const (
	Deb           = "deb"
	RPM           = "rpm"
	Zip           = "zip"
	Tar           = "tar"
	ISO9660       = "iso9660"
	UDF           = "udf"
	Disk          = "disk" // a raw disk image (MBR, GPT) or a bare file system
	QCOW2         = "qcow2"
	VMDK          = "vmdk"
	VHD           = "vhd"
	VHDX          = "vhdx"
	WIM           = "wim"
	Cab           = "cab"
	Squashfs      = "squashfs"
	SevenZip      = "7z"
	Cpio          = "cpio"
	Ar            = "ar"
	DockerArchive = "docker-archive"
	OCI           = "oci"
	MSI           = "msi" // Windows Installer package, patch or transform
	OLE           = "ole" // another OLE compound file (structured storage)
	Ext4          = "ext4"
	XFS           = "xfs"
	NTFS          = "ntfs"
	ExFAT         = "exfat"
	FAT           = "fat"
)

// table is every format: the file systems read only in disk images
// first, in the order a volume's file system is tried (they are no
// source format: a file holding one alone is a "disk"), then the source
// formats in the order people read them (hashr-scan --help). Detection
// runs in Order instead; see entries. It is set in init, as the disk
// detector reads it.
var table []Format

// byOrder is the source formats with a detector, in Order.
var byOrder []*Format

func init() {
	table = entries()
	for i := range table {
		if f := &table[i]; f.Order > 0 {
			byOrder = append(byOrder, f)
		}
	}
	slices.SortFunc(byOrder, func(a, b *Format) int { return a.Order - b.Order })
}

// entries is the table. Order, the order in which detection tries the
// source formats, matters:
//   - UDF before ISO 9660: a UDF bridge disc also carries CD001;
//   - optical discs before disks: a hybrid ISO also carries an MBR;
//   - VHD (a footer after raw disk bytes) before disks;
//   - deb before ar: a deb is an ar archive;
//   - tar late: its only test is a header checksum.
func entries() []Format {
	return []Format{
		{Name: Ext4, Detect: probe(ext4.Probe), Volume: ext4.NewWalker, BareDisk: true},
		{Name: XFS, Detect: probe(xfs.Probe), Volume: xfs.NewWalker, BareDisk: true},
		{Name: NTFS, Detect: probe(ntfs.Probe), Volume: ntfs.NewWalker, BareDisk: true},
		{Name: ExFAT, Detect: probe(exfat.Probe), Volume: exfat.NewWalker, BareDisk: true},
		{Name: FAT, Detect: probe(fat.Probe), Volume: fat.NewWalker, BareDisk: true},
		{Name: Deb, Order: 14, Detect: isDeb, OpenStream: openDeb, HardLinks: true, Shared: true},
		{Name: RPM, Order: 13, Detect: isRPM, OpenStream: openRPM, HardLinks: true, Shared: true},
		{Name: Zip, Order: 16, Detect: isZip, OpenAt: at(zip.NewWalker), Expands: true, Shared: true},
		{Name: Tar, Order: 18, Detect: isTar, OpenStream: openTar, HardLinks: true, Shared: true, Wrapper: true},
		{Name: ISO9660, Order: 2, Detect: isISO9660, OpenAt: at(iso9660.NewWalker), Volume: walker(iso9660.NewWalker),
			Auto: InstallMedia},
		{Name: UDF, Order: 1, Detect: isUDF, OpenAt: openUDF, Volume: udf.NewWalker, HardLinks: true, Auto: InstallMedia},
		{Name: Disk, Order: 19, Detect: isDisk, OpenAt: openDisk, Expands: true, HardLinks: true},
		{Name: QCOW2, Order: 3, Detect: isQCOW2, OpenAt: openDisk, Expands: true, HardLinks: true},
		{Name: VMDK, Order: 5, Detect: isVMDK, OpenAt: openDisk, Expands: true, HardLinks: true},
		{Name: VHD, Order: 6, Detect: isVHD, OpenAt: openDisk, Expands: true, HardLinks: true},
		{Name: VHDX, Order: 4, Detect: isVHDX, OpenAt: openDisk, Expands: true, HardLinks: true},
		{Name: WIM, Order: 7, Detect: isWIM, OpenAt: at(wim.NewWalker), Expands: true, Auto: UpdateWhenMSU, UpdatePart: true},
		{Name: Cab, Order: 8, Detect: isCab, OpenAt: openCab, Auto: Update, UpdatePart: true},
		{Name: Squashfs, Order: 11, Detect: isSquashfs, OpenAt: at(squashfs.NewWalker), Volume: squashfs.NewWalker,
			Expands: true, HardLinks: true},
		{Name: SevenZip, Order: 12, Detect: is7z, OpenAt: at(sevenzip.NewWalker), Expands: true, Shared: true},
		{Name: Cpio, Order: 17, Detect: isCpio, OpenStream: openCpio, HardLinks: true, Shared: true},
		{Name: Ar, Order: 15, Detect: isAr, OpenStream: openAr, Shared: true},
		{Name: DockerArchive, OpenAt: openImage(oci.DockerArchive), HardLinks: true},
		{Name: OCI, OpenAt: openImage(oci.Layout), HardLinks: true},
		{Name: MSI, Order: 9, Detect: isMSI, OpenAt: at(ole.NewWalker), Auto: Update, UpdatePart: true},
		{Name: OLE, Order: 10, Detect: isOLE, OpenAt: at(ole.NewWalker), Auto: Update, UpdatePart: true},
	}
}

// probe makes a reader's own superblock check a detector.
func probe(p func(r io.ReaderAt, size int64) bool) func(*Head) bool {
	return func(h *Head) bool { return p(h, h.Size) }
}

// walker makes a reader's constructor one of an archive.Walker (and
// never a non-nil interface holding a nil pointer).
func walker[W archive.Walker](open func(io.ReaderAt, int64) (W, error)) func(io.ReaderAt, int64) (archive.Walker, error) {
	return func(r io.ReaderAt, size int64) (archive.Walker, error) {
		w, err := open(r, size)
		if err != nil {
			return nil, err
		}
		return w, nil
	}
}

// at makes a reader's constructor an OpenAt.
func at[W archive.Walker](open func(io.ReaderAt, int64) (W, error)) func(io.ReaderAt, int64, *Env) (archive.Walker, error) {
	w := walker(open)
	return func(r io.ReaderAt, size int64, _ *Env) (archive.Walker, error) { return w(r, size) }
}

// openUDF opens a bridge disc's UDF tree, or its ISO 9660 tree when the
// UDF tree does not open (package bridge says why), telling env.Fallback.
func openUDF(r io.ReaderAt, size int64, env *Env) (archive.Walker, error) {
	t, err := bridge.Open(r, size)
	if err != nil {
		return nil, err
	}
	if t.UDFErr != nil && env.Fallback != nil {
		env.Fallback(t.UDFErr)
	}
	return t.W, nil
}

// openDisk opens a disk or VM image, reading its volumes with the table's
// file systems.
func openDisk(r io.ReaderAt, size int64, _ *Env) (archive.Walker, error) {
	return disk.NewWalker(r, size, DiskFileSystems())
}

// DiskFileSystems are the table's file systems as the disk reader takes
// them, in the order a volume's file system is tried.
func DiskFileSystems() []disk.FileSystem {
	var fss []disk.FileSystem
	for _, f := range VolumeFormats() {
		detect := f.Detect
		fss = append(fss, disk.FileSystem{
			Name: f.Name,
			Probe: func(r io.ReaderAt, size int64) bool {
				h := ReadHead(r, size)
				defer h.Release()
				return detect(h)
			},
			NewWalker: f.Volume,
		})
	}
	return fss
}

func openCab(r io.ReaderAt, size int64, env *Env) (archive.Walker, error) {
	w, err := cab.NewWalker(r, size, cab.Options{Ctx: env.Ctx, TempDir: env.TempDir, Path: env.Path,
		Meter: env.Meter, MaxBytes: env.MaxBytes, Verbosef: env.Verbosef})
	if err != nil {
		return nil, err
	}
	return w, nil
}

func openImage(kind oci.Format) func(io.ReaderAt, int64, *Env) (archive.Walker, error) {
	return func(r io.ReaderAt, size int64, env *Env) (archive.Walker, error) {
		opts := env.Image
		opts.Meter = env.Meter
		w, err := oci.NewWalker(r, size, kind, opts)
		if err != nil {
			return nil, err
		}
		return w, nil
	}
}

// A sparse tar member's holes count as expanded.
func openTar(r io.Reader, env *Env) (archive.Walker, error) {
	return tar.NewMeteredWalker(r, env.Meter), nil
}

func openCpio(r io.Reader, _ *Env) (archive.Walker, error) { return cpio.NewWalker(r), nil }

func openDeb(r io.Reader, env *Env) (archive.Walker, error) {
	return deb.NewWalker(r, deb.Options{Control: env.DebControl, Meter: env.Meter}), nil
}

func openRPM(r io.Reader, env *Env) (archive.Walker, error) { return rpm.NewWalker(r, env.Meter), nil }

func openAr(r io.Reader, _ *Env) (archive.Walker, error) { return ar.NewWalker(r), nil }

package attest

import (
	"io/fs"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// On Linux, recording makes only the system calls it needs: a directory is
// opened once and read with getdents64 (the entries' types come with their
// names: no stat for each), and each file is opened relative to it with
// openat, read into the worker's buffer until read returns 0, and closed.
// os.Open would add an fcntl and an epoll registration to every file (half
// the system time for small files).

// sysDir is an open directory (fd AT_FDCWD for the paths given to
// RecordArtifacts, which are opened as they are).
type sysDir struct {
	fd  int
	abs string // for messages
}

// sysWorker is what a worker keeps for hashAt.
type sysWorker struct {
	path    []byte // the name of the file to open, NUL-terminated
	noAtime bool   // open with O_NOATIME: until it is refused
}

func newSysWorker() sysWorker { return sysWorker{noAtime: true} }

func cwdDir() sysDir { return sysDir{fd: unix.AT_FDCWD} }

func openDir(abs string) (sysDir, error) {
	for {
		fd, err := unix.Open(abs, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return sysDir{fd: -1}, err
		}
		return sysDir{fd: fd, abs: abs}, nil
	}
}

func (d sysDir) close() {
	if d.fd >= 0 {
		unix.Close(d.fd)
	}
}

// list calls each for every entry but . and .., with its name (valid only
// during the call) and type: 0 for a regular file, fs.ModeDir,
// fs.ModeSymlink, fs.ModeIrregular for the rest.
func (d sysDir) list(buf []byte, each func(name []byte, typ fs.FileMode) error) error {
	for {
		n, err := unix.Getdents(d.fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		for b := buf[:n]; len(b) > 0; {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
			const nameOff = 19
			reclen := int(*(*uint16)(unsafe.Pointer(&b[16])))
			if reclen < nameOff || reclen > len(b) {
				return unix.EIO
			}
			rec := b[:reclen]
			b = b[reclen:]
			ino := *(*uint64)(unsafe.Pointer(&rec[0]))
			if ino == 0 {
				continue // a deleted file
			}
			raw := rec[nameOff:]
			for i, c := range raw {
				if c == 0 {
					raw = raw[:i]
					break
				}
			}
			if string(raw) == "." || string(raw) == ".." {
				continue
			}
			var typ fs.FileMode
			switch rec[18] {
			case unix.DT_REG:
			case unix.DT_DIR:
				typ = fs.ModeDir
			case unix.DT_LNK:
				typ = fs.ModeSymlink
			case unix.DT_UNKNOWN: // some file systems do not say
				var st unix.Stat_t
				if err := fstatat(d.fd, string(raw), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
					if err == unix.ENOENT {
						continue // removed since it was listed
					}
					return err
				}
				typ = modeType(st.Mode)
			default:
				typ = fs.ModeIrregular
			}
			if err := each(raw, typ); err != nil {
				return err
			}
		}
	}
}

func fstatat(dirfd int, name string, st *unix.Stat_t, flags int) error {
	for {
		err := unix.Fstatat(dirfd, name, st, flags)
		if err != unix.EINTR {
			return err
		}
	}
}

func modeType(m uint32) fs.FileMode {
	switch m & unix.S_IFMT {
	case unix.S_IFREG:
		return 0
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	}
	return fs.ModeIrregular
}

// statAt returns the type of what the symlink name points to.
func (d sysDir) statAt(name string) (fs.FileMode, error) {
	var st unix.Stat_t
	if err := fstatat(d.fd, name, &st, 0); err != nil {
		return 0, err
	}
	return modeType(st.Mode), nil
}

// hashAt writes the contents of the file name in d to wk's digest through
// its buffer and returns its size; errors name the file's path.
func (d sysDir) hashAt(name string, wk *worker) (int64, error) {
	// openat with the name copied to a reused buffer: unix.Openat would
	// allocate the NUL-terminated copy for each file. O_NOATIME: reading a
	// file a step has just made would otherwise update its access time
	// (relatime updates it once after each change), an inode write for
	// each (0.12 s of system time over 100,000 fresh files, a sixth); it
	// is allowed on the files one owns, so after the first refusal this
	// worker opens without it.
	sw := &wk.sys
	sw.path = append(append(sw.path[:0], name...), 0)
	var fd int
	for {
		flags := unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_LARGEFILE
		if sw.noAtime {
			flags |= unix.O_NOATIME
		}
		r, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(d.fd), uintptr(unsafe.Pointer(&sw.path[0])), uintptr(flags), 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno == unix.EPERM && sw.noAtime {
			sw.noAtime = false
			continue
		}
		if errno != 0 {
			return 0, &fs.PathError{Op: "open", Path: filepath.Join(d.abs, name), Err: errno}
		}
		fd = int(r)
		break
	}
	defer unix.Close(fd)
	var size int64
	for {
		n, err := unix.Read(fd, wk.buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: filepath.Join(d.abs, name), Err: err}
		}
		if n <= 0 {
			return size, nil
		}
		wk.d.Write(wk.buf[:n])
		size += int64(n)
	}
}

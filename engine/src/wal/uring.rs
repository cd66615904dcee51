//! The io_uring backend: a group's write and its fdatasync go to the kernel as one
//! linked submission, through one ring reused for the log's lifetime.
//!
//! A short write breaks the link: the kernel completes the fsync with `-ECANCELED`.
//! We then write the rest (and sync again) until everything is written and synced,
//! or an error ends it. A failed fsync is reported, never retried.
//!
//! The ring is single-issuer with deferred task work (kernel 6.1+; plain flags
//! otherwise): completions run in the commit thread when it waits, not in an
//! interrupt-driven task-work pass. Single-issuer means the thread that creates the
//! ring is the only one that may submit, so the ring is created on first use, by the
//! commit thread. A write that is not synced goes through `pwrite` instead: ext4
//! hands buffered io_uring writes to a kernel worker thread, which costs about ten
//! times a `pwrite` here (14 µs against 1.4 µs; see benches/README.md). A linked
//! write and sync measured faster than `pwrite` + `fdatasync` when the log appended
//! (158 µs against 182 µs); into space allocated ahead it is slower (one `Durable`
//! writer: 5.4–6.7k/s against 9.9–10.4k/s): both halves run on a kernel worker
//! thread, whose handoff, the measurement suggests, now costs more than it saves.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

use io_uring::{IoUring, Probe, opcode, squeue, types};

use crate::wal::io::LogIo;

const WRITE: u64 = 1;
const SYNC: u64 = 2;

/// Submission queue entries: a write and its sync at most.
const RING_ENTRIES: u32 = 4;

/// A ring for the log's writes.
pub(crate) struct UringIo {
    /// Created by the first call that needs it, with the thread that made it (the
    /// only one a single-issuer ring accepts submissions from).
    ring: Option<(IoUring, std::thread::ThreadId)>,
    /// Whether this kernel takes single-issuer, deferred-task-work rings.
    defer_taskrun: bool,
}

/// Builds a ring, with deferred task work if `defer_taskrun`.
fn build_ring(defer_taskrun: bool) -> io::Result<IoUring> {
    let mut builder = IoUring::builder();
    if defer_taskrun {
        builder.setup_single_issuer().setup_defer_taskrun();
    }
    builder.build(RING_ENTRIES)
}

impl UringIo {
    /// Checks that io_uring works here and supports the operations the log uses;
    /// an error when it is refused (EPERM, ENOSYS: seccomp, the
    /// `kernel.io_uring_disabled` sysctl) or too old.
    pub(crate) fn new() -> io::Result<UringIo> {
        let (probe_ring, defer_taskrun) = match build_ring(true) {
            Ok(ring) => (ring, true),
            Err(_) => (build_ring(false)?, false),
        };
        let mut probe = Probe::new();
        probe_ring.submitter().register_probe(&mut probe)?;
        if !probe.is_supported(opcode::Write::CODE) || !probe.is_supported(opcode::Fsync::CODE) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the kernel's io_uring lacks WRITE or FSYNC",
            ));
        }
        Ok(UringIo {
            ring: None,
            defer_taskrun,
        })
    }

    /// The ring, built for the calling thread. (The log is opened on the opener's
    /// thread and then used by the commit thread: the ring follows it there.)
    fn ring(&mut self) -> io::Result<&mut IoUring> {
        let me = std::thread::current().id();
        if self.ring.as_ref().is_none_or(|(_, owner)| *owner != me) {
            self.ring = Some((build_ring(self.defer_taskrun)?, me));
        }
        Ok(&mut self.ring.as_mut().expect("just built").0)
    }

    /// Submits `entries` and waits for all of their completions; returns each
    /// completion's result by user data (WRITE, SYNC).
    fn run(&mut self, entries: &[squeue::Entry]) -> io::Result<(Option<i32>, Option<i32>)> {
        let ring = self.ring()?;
        // SAFETY: every entry points at a buffer (or nothing) that the caller keeps
        // alive until this function returns, and we return only after the kernel has
        // completed every entry pushed here (we wait for exactly that many).
        unsafe {
            ring.submission()
                .push_multiple(entries)
                .map_err(|_| io::Error::other("the io_uring submission queue is full"))?;
        }
        let mut written = None;
        let mut synced = None;
        let mut completed = 0;
        while completed < entries.len() {
            match ring.submit_and_wait(entries.len() - completed) {
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
            for completion in ring.completion() {
                completed += 1;
                match completion.user_data() {
                    WRITE => written = Some(completion.result()),
                    SYNC => synced = Some(completion.result()),
                    other => unreachable!("unknown io_uring user data {other}"),
                }
            }
        }
        Ok((written, synced))
    }
}

impl LogIo for UringIo {
    fn write_at(&mut self, file: &File, bytes: &[u8], offset: u64, sync: bool) -> io::Result<()> {
        if !sync {
            return file.write_all_at(bytes, offset);
        }
        let fd = types::Fd(file.as_raw_fd());
        let mut done = 0usize;
        loop {
            let rest = &bytes[done..];
            let len = u32::try_from(rest.len()).unwrap_or(u32::MAX);
            let write = opcode::Write::new(fd, rest.as_ptr(), len)
                .offset(offset + done as u64)
                .build()
                .user_data(WRITE);
            let fsync = opcode::Fsync::new(fd)
                .flags(types::FsyncFlags::DATASYNC)
                .build()
                .user_data(SYNC);
            let (written, synced) = self.run(&[write.flags(squeue::Flags::IO_LINK), fsync])?;
            let written = written.expect("the write completed");
            if written < 0 {
                if -written == libc::EINTR || -written == libc::EAGAIN {
                    continue;
                }
                return Err(io::Error::from_raw_os_error(-written));
            }
            if written == 0 && !rest.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "the log write made no progress",
                ));
            }
            done += written as usize;
            match synced.expect("the sync completed") {
                // The link was cut by a short write: write the rest, sync again.
                result if result == -libc::ECANCELED => {}
                result if result < 0 => return Err(io::Error::from_raw_os_error(-result)),
                _ if done == bytes.len() => return Ok(()),
                // Synced, but only a prefix was written: write the rest and sync again.
                _ => {}
            }
            if done == bytes.len() {
                // Written in full but the sync was cancelled: sync alone.
                return self.sync(file);
            }
        }
    }

    fn sync(&mut self, file: &File) -> io::Result<()> {
        let fsync = opcode::Fsync::new(types::Fd(file.as_raw_fd()))
            .flags(types::FsyncFlags::DATASYNC)
            .build()
            .user_data(SYNC);
        let (_, synced) = self.run(&[fsync])?;
        match synced.expect("the sync completed") {
            result if result < 0 => Err(io::Error::from_raw_os_error(-result)),
            _ => Ok(()),
        }
    }

    fn name(&self) -> &'static str {
        "io_uring"
    }
}

//! The io_uring backend: a group's write and its fdatasync go to the kernel as one
//! linked submission, through one ring reused for the log's lifetime.
//!
//! A short write breaks the link: the kernel completes the fsync with `-ECANCELED`.
//! We then write the rest (and sync again) until everything is written and synced,
//! or an error ends it. A failed fsync is reported, never retried.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

use io_uring::{IoUring, Probe, opcode, squeue, types};

use crate::wal::io::LogIo;

const WRITE: u64 = 1;
const SYNC: u64 = 2;

/// A ring for the log's writes.
pub(crate) struct UringIo {
    ring: IoUring,
}

impl UringIo {
    /// Sets up a ring and checks the kernel supports the operations the log uses;
    /// an error when io_uring is refused (EPERM, ENOSYS) or too old.
    pub(crate) fn new() -> io::Result<UringIo> {
        let ring = IoUring::new(4)?;
        let mut probe = Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        if !probe.is_supported(opcode::Write::CODE) || !probe.is_supported(opcode::Fsync::CODE) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the kernel's io_uring lacks WRITE or FSYNC",
            ));
        }
        Ok(UringIo { ring })
    }

    /// Submits `entries` and waits for all of their completions; returns each
    /// completion's result by user data (WRITE, SYNC).
    fn run(&mut self, entries: &[squeue::Entry]) -> io::Result<(Option<i32>, Option<i32>)> {
        // SAFETY: every entry points at a buffer (or nothing) that the caller keeps
        // alive until this function returns, and we return only after the kernel has
        // completed every entry pushed here (we wait for exactly that many).
        unsafe {
            self.ring
                .submission()
                .push_multiple(entries)
                .map_err(|_| io::Error::other("the io_uring submission queue is full"))?;
        }
        let mut written = None;
        let mut synced = None;
        let mut completed = 0;
        while completed < entries.len() {
            match self.ring.submit_and_wait(entries.len() - completed) {
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
            for completion in self.ring.completion() {
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
            let (written, synced) = if sync {
                self.run(&[write.flags(squeue::Flags::IO_LINK), fsync])?
            } else {
                self.run(&[write])?
            };
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
            match synced {
                // The link was cut by a short write: write the rest, sync again.
                Some(result) if result == -libc::ECANCELED => {}
                Some(result) if result < 0 => return Err(io::Error::from_raw_os_error(-result)),
                Some(_) if done == bytes.len() => return Ok(()),
                // Synced, but only a prefix was written: write the rest and sync again.
                Some(_) => {}
                None if done == bytes.len() => return Ok(()),
                None => {}
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

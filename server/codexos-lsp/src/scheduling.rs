//! How the server's threads share busy cores. The editor waits on the request threads (the loop
//! that reads, dispatches and answers requests, its runtime's workers and blocking threads); an
//! agent run is background work that nobody watches token by token. When the cores are busy
//! (a hundred runs streaming, a build next door), the kernel should pick a request thread
//! first and let it finish its few microseconds of work before anything else:
//! - request threads ask for a short time slice (Linux 6.12+, EEVDF's per-task slice): a
//!   thread with a shorter slice gets an earlier deadline, so it is picked first when it wakes
//!   and may preempt a thread with a longer one; on older kernels the request is ignored;
//! - run threads get a nice value of [`RUN_NICENESS`], about a tenth of a request thread's
//!   weight, so within the server the runs give way to requests, and lose nothing while the
//!   cores are free.
//!
//! Linux only, where both are per-thread attributes; elsewhere nothing changes (`setpriority`
//! on macOS would lower the whole server). Neither needs privileges: a thread may always lower
//! its own priority and choose its own slice, never raise its nice value back, which is why a
//! thread of the request runtime must not be created by a run thread (it would inherit the run's
//! niceness): the request runtime sets its threads' slice when they start, and runs reach it
//! only by spawning tasks or through `Handle::block_on`, never by creating its threads. Threads
//! that request threads create (the index's tantivy threads) inherit the short slice: it gives
//! them shorter turns, not more CPU.

use std::io;

/// The time slice a request thread asks for; the kernel's default is 0.75 ms times
/// 1 + log2(cores) (1.5 ms on two cores), and it accepts 0.1 ms to 100 ms.
#[cfg(target_os = "linux")]
const REQUEST_SLICE_NS: u64 = 100_000;

/// How much lower than a request thread a run thread is scheduled (nice 10 weighs 110 against
/// nice 0's 1024).
#[cfg(target_os = "linux")]
const RUN_NICENESS: i32 = 10;

/// `SCHED_FLAG_KEEP_POLICY`: a server started under `SCHED_BATCH` or `SCHED_IDLE` stays there.
#[cfg(target_os = "linux")]
const KEEP_POLICY: u64 = 0x08;

/// The runtime `codexos lsp` serves on: one worker per core, and every thread of it (workers and
/// blocking threads) asking for short slices. Call [`favour_requests`] on the thread that
/// drives the server with `block_on` as well.
pub fn request_runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("codexos-lsp")
        .on_thread_start(favour_requests)
        .build()
}

/// Makes the calling thread a request thread: a short slice, its nice value unchanged.
pub fn favour_requests() {
    #[cfg(target_os = "linux")]
    set_thread_scheduling(None, Some(REQUEST_SLICE_NS), "a request thread");
}

/// Makes the calling thread a run thread: a higher nice value and the kernel's default slice
/// (a run thread may have been created by a request thread and inherited its short one).
pub fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    set_thread_scheduling(Some(RUN_NICENESS), None, "a run thread");
}

/// `sched_attr` of `sched_setattr(2)`, its first version (48 bytes).
#[cfg(target_os = "linux")]
#[repr(C)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    /// For `SCHED_OTHER` since Linux 6.12: the slice, in nanoseconds (0: the default).
    runtime: u64,
    deadline: u64,
    period: u64,
}

/// Sets the calling thread's nice value (`None`: keep it) and slice (`None`: the default);
/// a refusal (an old kernel, a sandbox) leaves the thread as it was, with a debug log line.
#[cfg(target_os = "linux")]
fn set_thread_scheduling(nice: Option<i32>, slice_ns: Option<u64>, what: &str) {
    // SAFETY: `gettid` has no preconditions.
    let thread = unsafe { libc::gettid() };
    let nice = match nice {
        Some(nice) => nice,
        None => {
            // `getpriority` may return -1 as a value: errno tells an error apart.
            // SAFETY: `__errno_location` points at this thread's errno; `getpriority` only
            // reads the scheduling attributes of the thread it names.
            unsafe {
                *libc::__errno_location() = 0;
                let current = libc::getpriority(libc::PRIO_PROCESS, thread as libc::id_t);
                if current == -1 && *libc::__errno_location() != 0 {
                    tracing::debug!(
                        "{what} keeps its scheduling: {}",
                        io::Error::last_os_error()
                    );
                    return;
                }
                current
            }
        }
    };
    let attributes = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy: 0,
        flags: KEEP_POLICY,
        nice,
        priority: 0,
        runtime: slice_ns.unwrap_or(0),
        deadline: 0,
        period: 0,
    };
    // SAFETY: the attributes are a valid, fully initialised `sched_attr` of the size they
    // state, and the call changes only the scheduling of this thread.
    let set = unsafe {
        libc::syscall(
            libc::SYS_sched_setattr,
            thread,
            &attributes as *const SchedAttr,
            0u32,
        )
    };
    if set != 0 {
        tracing::debug!(
            "{what} keeps its scheduling: {}",
            io::Error::last_os_error()
        );
    }
}

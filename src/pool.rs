//! gitopsc's own thread pool, shared by every stage that works in parallel:
//! library callers need not configure rayon, and deep input cannot overflow
//! a worker's stack.

/// Stack size of gitopsc's worker threads: parsing hostile nesting recurses
/// until the depth limit stops it, and rayon's 2 MiB default is not enough for
/// that in every build. Stacks are reserved, not committed, so this costs
/// address space only.
const WORKER_STACK: usize = 64 << 20;

/// gitopsc's own thread pool, so library callers need not configure rayon.
fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .stack_size(WORKER_STACK)
            .thread_name(|i| format!("gitopsc-{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

/// Runs `work` on gitopsc's pool (or here, if the pool could not start).
pub fn on_pool<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    match pool() {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

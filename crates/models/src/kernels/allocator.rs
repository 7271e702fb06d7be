//! Keeping freed memory in the process, so training steps reuse pages instead of faulting in
//! fresh ones.

/// Tells the C allocator (glibc's malloc, on Linux) to serve blocks of up to 32 MiB from its
/// heap and to keep freed memory instead of returning it to the operating system.
///
/// A training step allocates and frees the same large activation and gradient buffers every
/// step. By default glibc maps big blocks fresh from the kernel and unmaps them on free, so every
/// step pays page faults (zeroed pages) and TLB flushes for them; measured here this was about a
/// third of a tiny-ViT step on 2 cores. PyTorch avoids it with its caching allocator; this is
/// the equivalent switch. The price is that the process keeps its peak memory resident.
///
/// Call it once, early in `main`; `smallscale`'s command line does. Returns whether the setting
/// was applied (`false` on platforms without glibc, where it does nothing).
///
/// ```
/// let applied = smallscale_models::kernels::retain_freed_memory();
/// assert_eq!(applied, cfg!(all(target_os = "linux", target_env = "gnu")));
/// ```
pub fn retain_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        /// glibc's largest allowed mmap threshold on 64-bit systems (`DEFAULT_MMAP_THRESHOLD_MAX`).
        const MMAP_THRESHOLD: libc::c_int = 32 << 20;
        // SAFETY: mallopt only changes allocator tunables; it is safe to call at any time.
        let mmap = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
        let trim = unsafe { libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX) };
        mmap == 1 && trim == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

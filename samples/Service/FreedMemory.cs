using System.Runtime.InteropServices;

namespace EfficientViT.Service;

/// <summary>
/// Hands the native memory freed after a burst of large images back to the operating system. The pixels of
/// large images are returned when freed, but glibc's malloc keeps what the decoders and ML.NET's image steps
/// freed in its per-thread arenas, for reuse: a few hundred MB after a burst of 4096×4096 uploads, measured.
/// </summary>
public static class FreedMemory
{
    private static long lastTrim;

    /// <summary>
    /// Asks glibc's malloc (<c>malloc_trim</c>) to return its free memory, on a thread-pool thread, at most once a
    /// second. Does nothing where the C library is not glibc.
    /// </summary>
    public static void ReturnSoon()
    {
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref lastTrim);
        if (!OperatingSystem.IsLinux() || now - last < 1000 || Interlocked.CompareExchange(ref lastTrim, now, last) != last)
            return;
        ThreadPool.UnsafeQueueUserWorkItem(_ =>
        {
            try
            {
                malloc_trim(0);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                // Another C library (musl): nothing to trim.
            }
        }, null);
    }

    [DllImport("libc")]
    private static extern int malloc_trim(nuint pad);
}

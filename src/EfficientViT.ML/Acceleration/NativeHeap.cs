using System.Runtime.InteropServices;

namespace EfficientViT.ML.Acceleration;

/// <summary>
/// glibc's malloc hands a freed block above its mmap threshold (128 KiB at first, rising with the blocks
/// it sees, to at most 32 MiB) back to the operating system at once, and maps fresh zeroed pages the next
/// time. A training step frees and allocates the same activations every step, so it page-faulted through
/// them anew: about a million minor faults in 20 s of M0 training at 112x112, and half of a BatchNorm's
/// time over a 56x56 map. <see cref="KeepFreedMemory"/> lets the heap keep those blocks for the next step.
/// </summary>
internal static class NativeHeap
{
    // mallopt's parameter numbers (malloc.h).
    private const int TrimThreshold = -1, TopPad = -2, MmapThreshold = -3;

    /// <summary>Blocks up to this size (glibc's largest mmap threshold) come from the heap.</summary>
    public const int MmapThresholdBytes = 32 << 20;

    /// <summary>
    /// Serves blocks up to <see cref="MmapThresholdBytes"/> from the heap and keeps up to 1 GiB of freed heap
    /// instead of returning it: the process keeps the memory its largest step used until it exits.
    /// Process-wide. Returns false, changing nothing, where the C library is not glibc's.
    /// </summary>
    public static bool KeepFreedMemory()
    {
        if (!OperatingSystem.IsLinux())
            return false;
        try
        {
            return mallopt(MmapThreshold, MmapThresholdBytes) == 1
                & mallopt(TrimThreshold, 1 << 30) == 1
                & mallopt(TopPad, 64 << 20) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int parameter, int value);
}

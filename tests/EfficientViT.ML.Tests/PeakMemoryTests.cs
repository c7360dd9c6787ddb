using System.Runtime.InteropServices;

namespace EfficientViT.ML.Tests;

/// <summary>The process's resident memory is process-wide: these tests run after the parallel ones, with nothing else running.</summary>
[CollectionDefinition(nameof(ProcessMemoryCollection), DisableParallelization = true)]
public sealed class ProcessMemoryCollection;

[Collection(nameof(ProcessMemoryCollection))]
public class PeakMemoryTests
{
    private const long BufferBytes = 256L << 20;

    // A buffer mapped, written page by page (an untouched page is not resident) and unmapped raises the peak by its
    // size while it lives; once it is gone, a reset brings the peak back down to what is resident without it.
    [Fact]
    public void The_peak_grows_by_a_touched_native_buffer_and_falls_after_a_reset()
    {
        Assert.True(OperatingSystem.IsLinux(), "these machines run Linux");
        Assert.True(PeakMemory.TryReset(), "the kernel refused to reset the peak (/proc/self/clear_refs takes \"5\" from Linux 4.0)");
        var before = PeakMemory.OfThisProcess();
        Assert.True(before > 0, $"peak before the buffer: {before} KiB");

        var (_, withBuffer) = PeakMemory.During(() => TouchAndRelease(BufferBytes));
        var (_, afterBuffer) = PeakMemory.During(() => 0);

        // Three quarters: other threads of the process (the runtime's, libtorch's) may free memory meanwhile.
        Assert.True(withBuffer - before >= BufferBytes * 3 / 4 / 1024,
            $"the peak went from {before} to {withBuffer} KiB around a {BufferBytes / 1024} KiB buffer");
        Assert.True(afterBuffer <= withBuffer - BufferBytes / 2 / 1024,
            $"after the buffer was unmapped and the peak reset, the peak was {afterBuffer} KiB; with the buffer it was {withBuffer} KiB");
    }

    [Fact]
    public void Formats_a_peak_in_MiB_and_an_unknown_one_as_n_a()
    {
        Assert.Equal("1536 MiB", PeakMemory.Format(1536 * 1024));
        Assert.Equal("n/a", PeakMemory.Format(null));
    }

    [Fact]
    public void Reads_the_peak_a_child_reported()
    {
        var lines = new[] { "threads 1: 400.0 img/s (3 steps)", $"{PeakMemory.Prefix} 123456" };

        Assert.Equal(123456, PeakMemory.FromOutput(lines));
        Assert.Null(PeakMemory.FromOutput(lines[..1]));
    }

    private static int TouchAndRelease(long bytes)
    {
        var buffer = mmap(0, (nuint)bytes, ProtReadWrite, MapPrivateAnonymous, -1, 0);
        Assert.NotEqual((nint)(-1), buffer);
        try
        {
            for (long offset = 0; offset < bytes; offset += Environment.SystemPageSize)
                Marshal.WriteByte(buffer, (int)offset, 1);
        }
        finally
        {
            Assert.Equal(0, munmap(buffer, (nuint)bytes));
        }
        return 0;
    }

    private const int ProtReadWrite = 0x1 | 0x2, MapPrivateAnonymous = 0x02 | 0x20;

    [DllImport("libc")]
    private static extern nint mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [DllImport("libc")]
    private static extern int munmap(nint address, nuint length);
}

using System.Globalization;

namespace EfficientViT.ML;

/// <summary>
/// The process's peak resident memory as the kernel counts it (Linux: <c>VmHWM</c> in <c>/proc/self/status</c>, the
/// figure <c>/usr/bin/time -f %M</c> reports): native tensors, the runtime, the loaded libraries and the managed heap
/// together. Linux (4.0 and later) lets a process set its peak back to its current resident size, so that one process
/// can report a peak per measurement: <see cref="During{T}"/>.
/// </summary>
internal static class PeakMemory
{
    private const string Status = "/proc/self/status", ClearRefs = "/proc/self/clear_refs", PeakField = "VmHWM:";

    /// <summary>The line a measuring parent reads from a child's output.</summary>
    public const string Prefix = "peak resident memory KiB:";

    /// <summary>Peak resident KiB of this process so far (or since <see cref="TryReset"/>); null where /proc is not there (not Linux).</summary>
    public static long? OfThisProcess()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists(Status))
            return null;
        var line = File.ReadLines(Status).FirstOrDefault(l => l.StartsWith(PeakField, StringComparison.Ordinal));
        return line is null ? null : long.Parse(line[PeakField.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Sets this process's peak back to its current resident size ("5" into /proc/self/clear_refs); false where that
    /// cannot be done (not Linux, a kernel before 4.0, or /proc mounted read-only).
    /// </summary>
    public static bool TryReset()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists(ClearRefs))
            return false;
        try
        {
            using var file = new FileStream(ClearRefs, FileMode.Open, FileAccess.Write);
            file.Write("5"u8);
            return true;
        }
        // A kernel that does not know "5" refuses the write (EINVAL); a read-only /proc refuses the open.
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Runs <paramref name="measure"/> and returns its result with the process's peak resident KiB while it ran (what
    /// was already resident when it started included); the peak is null where it cannot be reset and read.
    /// </summary>
    public static (T Result, long? PeakKib) During<T>(Func<T> measure)
    {
        var reset = TryReset();
        var result = measure();
        return (result, reset ? OfThisProcess() : null);
    }

    /// <summary>"412 MiB", or "n/a" for an unknown peak.</summary>
    public static string Format(long? kib) => kib is { } k ? (k / 1024.0).ToString("F0", CultureInfo.InvariantCulture) + " MiB" : "n/a";

    /// <summary>Writes <see cref="Prefix"/> and the peak, when known.</summary>
    public static void Report(TextWriter output)
    {
        if (OfThisProcess() is { } kib)
            output.WriteLine($"{Prefix} {kib}");
    }

    /// <summary>The peak a child wrote with <see cref="Report"/> into its output's <paramref name="lines"/>, or null.</summary>
    public static long? FromOutput(IEnumerable<string> lines)
    {
        var line = lines.LastOrDefault(l => l.StartsWith(Prefix, StringComparison.Ordinal));
        return line is null ? null : long.Parse(line[Prefix.Length..].Trim(), CultureInfo.InvariantCulture);
    }
}

namespace EfficientViT.Benchmarks;

/// <summary>
/// The process's peak resident memory as the kernel counts it (<c>VmHWM</c> in <c>/proc/self/status</c>, the
/// figure <c>/usr/bin/time -f %M</c> reports): native tensors, the runtime and the managed heap together.
/// </summary>
internal static class PeakMemory
{
    /// <summary>The line a measuring parent reads from a child's output.</summary>
    public const string Prefix = "peak resident memory KiB:";

    /// <summary>Peak resident KiB of this process so far; null where /proc is not there (not Linux).</summary>
    public static long? OfThisProcess()
    {
        const string Path = "/proc/self/status";
        if (!File.Exists(Path))
            return null;
        var line = File.ReadLines(Path).FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? null : long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Writes <see cref="Prefix"/> and the peak, when known.</summary>
    public static void Report(TextWriter output)
    {
        if (OfThisProcess() is { } kib)
            output.WriteLine($"{Prefix} {kib}");
    }
}

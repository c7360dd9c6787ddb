namespace EfficientViT.ML;

/// <summary>
/// The machine a speed was measured on, in one line: speeds only compare on the same machine, so every
/// figure printed by the benchmarks and <c>efficientvit bench</c> names it.
/// </summary>
internal static class MachineDescription
{
    /// <summary>The CPU model name (Linux: /proc/cpuinfo), or null where the system does not tell it in a plain file.</summary>
    public static string? CpuModel()
    {
        const string cpuInfo = "/proc/cpuinfo";
        if (!File.Exists(cpuInfo))
            return null;
        var line = File.ReadLines(cpuInfo).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        return line?[(line.IndexOf(':') + 1)..].Trim();
    }

    /// <summary>For example "Intel(R) Xeon(R) Processor, 2 logical processors, Linux (X64), malloc: tcmalloc".</summary>
    /// <remarks>The malloc is named because it moves training speed (<see cref="NativeAllocator"/>).</remarks>
    public static string Summary() =>
        $"{CpuModel() ?? "unknown CPU"}, {Environment.ProcessorCount} logical processors, " +
        $"{System.Runtime.InteropServices.RuntimeInformation.OSDescription} ({System.Runtime.InteropServices.RuntimeInformation.OSArchitecture}), " +
        $"malloc: {NativeAllocator.Current()}";
}

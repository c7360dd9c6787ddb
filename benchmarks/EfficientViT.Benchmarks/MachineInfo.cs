using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;

namespace EfficientViT.Benchmarks;

/// <summary>The facts needed to compare numbers across machines, printed above the results.</summary>
internal static class MachineInfo
{
    public static IReadOnlyList<(string Name, string Value)> Collect() =>
    [
        ("Processor count", Environment.ProcessorCount.ToString()),
        ("CPU", CpuModel() ?? "unknown"),
        ("OS", $"{RuntimeInformation.OSDescription} ({RuntimeInformation.OSArchitecture})"),
        (".NET", RuntimeInformation.FrameworkDescription),
        ("TorchSharp", InformationalVersion(typeof(torch).Assembly)),
        // Read before the benchmark changes it: what libtorch would use for an application that does not choose.
        ("libtorch default threads", $"{torch.get_num_threads()} intra-op, {torch.get_num_interop_threads()} inter-op"),
        ("Build", IsReleaseBuild() ? "Release" : "Debug (managed code unoptimised; use -c Release)"),
        ("Started (UTC)", DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss")),
    ];

    private static string InformationalVersion(Assembly assembly)
    {
        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString()
            ?? "unknown";
        // Drop the "+commit" build metadata: the package version is what matters.
        var plus = version.IndexOf('+');
        return plus < 0 ? version : version[..plus];
    }

    // Only Linux exposes the model name in a plain file; elsewhere the processor count must do.
    private static string? CpuModel()
    {
        const string cpuInfo = "/proc/cpuinfo";
        if (!File.Exists(cpuInfo))
            return null;
        var line = File.ReadLines(cpuInfo).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        return line?[(line.IndexOf(':') + 1)..].Trim();
    }

    private static bool IsReleaseBuild() =>
        Assembly.GetExecutingAssembly().GetCustomAttribute<System.Diagnostics.DebuggableAttribute>()?.IsJITOptimizerDisabled != true;
}
